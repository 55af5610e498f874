"""The Runtime seam: the narrow set of verbs controllers use to run instances.

Contract, which every implementation passes in tests/conformance:
- `start` either leaves a running instance behind, or nothing at all (it cleans up on failure).
- `destroy` and `stop` of an unknown instance succeed: controllers retry freely.
- `list` rebuilds the actual state from the runtime alone, by Dockyard's owner labels; containers
  without them are invisible, and so are other platforms' (a runtime bound to a `Platform`
  labels what it makes with the platform's id and lists only what that platform owns).
- Errors are Dockyard's: `Unavailable` when the engine does not answer (retry later),
  `RuntimeFailure` when it refused the request (e.g. an image it does not have), `NotFound` for
  `restart`/`logs` of an unknown instance, `Conflict` when `start` is given an instance whose
  name is taken (the existing one is left alone).
- Declared log files (with `Capabilities.log_files`): each instance gets its own host directory
  per declared directory, made by `start` and kept by `restart`; `destroy` removes it, so the
  caller destroys only once the host agent shipped it (the controller waits for its mark).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Protocol

from dockyard.domain.instance import InstanceSpec, Observed, Owner
from dockyard.domain.spec import HealthCheck


@dataclass(frozen=True)
class Capabilities:
    """What this runtime can do; callers check these rather than catching NotImplementedError."""

    http_probe: bool = True
    command_probe: bool = True
    restart_in_place: bool = True
    log_files: bool = False
    """Declared log files (ServiceSpec.log_paths) are mounted and labelled for the host agent.
    Without it, `start` of a spec that declares some fails with RuntimeFailure (field
    `log_paths`) and leaves nothing behind."""
    # How many starts or stops to run at once: more than the engine can take only slows each one.
    parallel_starts: int = 4


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str = ""


class Runtime(Protocol):
    """A place where instances run: one Docker engine, one Kubernetes cluster, or the fake."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def ping(self) -> None:
        """Return if the runtime answers; raise Unavailable otherwise."""

    async def start(self, spec: InstanceSpec) -> Observed:
        """Create and start one instance. On any failure nothing is left behind."""

    async def restart(self, observed: Observed) -> Observed:
        """Start an exited instance again in place (same id). NotFound if it is gone."""

    async def stop(self, observed: Observed, *, grace_s: float) -> None:
        """Ask the instance to stop, killing it after `grace_s`. Unknown instances succeed."""

    async def destroy(self, observed: Observed) -> None:
        """Remove the instance, killing it if needed. Unknown instances succeed."""

    async def list(self, owner: Owner) -> builtins.list[Observed]:
        """Every instance carrying Dockyard's labels that matches `owner`, in any state."""

    async def logs(self, observed: Observed, *, tail: int) -> builtins.list[str]:
        """The last `tail` lines the instance wrote (stdout and stderr, interleaved)."""

    async def probe(
        self, observed: Observed, check: HealthCheck, *, port: int | None
    ) -> ProbeResult:
        """Run one health check against a running instance, bounded by `check.timeout_s`."""
