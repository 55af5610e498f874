"""FakeRuntime: an in-memory Runtime for controller unit tests. Deterministic; never sleeps.

It honours the same contract as the Docker runtime (tests/conformance runs both), and adds test
hooks to make the world misbehave: unknown images, crashes, instances deleted behind Dockyard's
back, failing probes, an engine that does not answer, segment networks with room for only so
many instances. `calls` counts every verb invoked, `start_attempts` every start per network.
`beside` gives another installation's runtime on the same fake engine (platform labels).
Declared log files are recorded as Docker would mount and label them (`mounts_of`,
`labels_of`), under a `files_dir` that is never touched.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from dockyard.domain.errors import Conflict, Exhausted, NotFound, RuntimeFailure, Unavailable
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import (
    LABEL_PLATFORM,
    InstanceSpec,
    Observed,
    Owner,
    Platform,
    RunState,
)
from dockyard.domain.logfiles import log_labels, log_mounts
from dockyard.domain.lograte import rate_labels
from dockyard.domain.segment import DOCKER_NETWORK_PREFIX
from dockyard.domain.spec import HealthCheck
from dockyard.runtimes.base import Capabilities, ProbeResult

# What a process killed by SIGTERM reports: how `stop` leaves a fake instance.
STOPPED_EXIT_CODE = 143


@dataclass
class _Instance:
    spec: InstanceSpec
    observed: Observed
    ip: str  # kept while exited, so a restart gets its address back (as Docker usually does)
    lines: list[str] = field(default_factory=list)
    probe: ProbeResult | None = None  # None: healthy whenever running
    platform: str | None = None  # the platform label it was made with (None: none)
    mounts: dict[str, str] = field(default_factory=dict)  # container dir -> host dir
    labels: dict[str, str] = field(default_factory=dict)  # the declared log files' labels


@dataclass
class _Engine:
    """What the runtimes of several platforms on one fake engine share."""

    instances: dict[str, _Instance] = field(default_factory=dict)
    serial: int = 0


class FakeRuntime:
    """Instances as records in a dict. Every image is known unless `forget_image` says not."""

    def __init__(
        self,
        *,
        capabilities: Capabilities | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        platform: Platform | None = None,
        files_dir: str = "/fake/log-files",
    ) -> None:
        """`platform` as for DockerRuntime: None labels nothing and lists every instance. By
        default it supports declared log files, as the server's Docker runtime does."""
        self._capabilities = capabilities or Capabilities(log_files=True)
        self._files_dir = files_dir
        self._clock = clock
        self._platform = platform
        self._engine = _Engine()
        self._instances = self._engine.instances
        self._unknown_images: set[str] = set()
        self._unavailable = False
        self._capacity: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.start_attempts: Counter[str | None] = Counter()
        """Starts asked for, by network (None: the default one), refused ones included."""

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # -- test hooks --------------------------------------------------------------------------

    def beside(self, platform: Platform | None) -> FakeRuntime:
        """The runtime of another installation (`platform`) on this same fake engine."""
        other = FakeRuntime(
            capabilities=self._capabilities,
            clock=self._clock,
            platform=platform,
            files_dir=self._files_dir,
        )
        other._engine, other._instances = self._engine, self._instances
        return other

    def forget_image(self, image: str) -> None:
        """From now on, `start` of `image` fails with RuntimeFailure, as for an unbuilt image."""
        self._unknown_images.add(image)

    def crash(self, instance_id: str, *, exit_code: int) -> None:
        """The instance's process exits with `exit_code` (it stays listed, EXITED)."""
        instance = self._find(instance_id)
        self._set(instance, state=RunState.EXITED, exit_code=exit_code, finished=True)

    def vanish(self, instance_id: str) -> None:
        """The instance is deleted behind Dockyard's back (not counted as a destroy)."""
        self._instances.pop(self._find(instance_id).observed.runtime_id)

    def set_probe(self, instance_id: str, result: ProbeResult | bool) -> None:
        """Every later probe of the running instance returns `result`."""
        probe = result if isinstance(result, ProbeResult) else ProbeResult(ok=result, detail="set")
        self._find(instance_id).probe = probe

    def emit(self, instance_id: str, *lines: str) -> None:
        """The instance writes `lines` to its output (what `logs` returns)."""
        self._find(instance_id).lines.extend(lines)

    def limit_network(self, network: str, *, capacity: int) -> None:
        """From now on `network` holds at most `capacity` instances (exited ones keep their
        address); a start beyond fails with Exhausted, worded as the IPAM driver's refusal."""
        self._capacity[network] = capacity

    def set_unavailable(self, unavailable: bool = True) -> None:
        """While set, every verb raises Unavailable, as if the engine did not answer."""
        self._unavailable = unavailable

    def spec_of(self, instance_id: str) -> InstanceSpec:
        """The spec an instance was started from, to assert on what a controller asked for."""
        return self._find(instance_id).spec

    def mounts_of(self, instance_id: str) -> dict[str, str]:
        """The instance's mounts, container directory -> host directory (declared log files')."""
        return dict(self._find(instance_id).mounts)

    def labels_of(self, instance_id: str) -> dict[str, str]:
        """The labels telling the host agent of the instance's declared log files."""
        return dict(self._find(instance_id).labels)

    @property
    def starts(self) -> int:
        return self.calls["start"]

    @property
    def destroys(self) -> int:
        return self.calls["destroy"]

    # -- the Runtime verbs -------------------------------------------------------------------

    async def ping(self) -> None:
        self._enter("ping")

    async def start(self, spec: InstanceSpec) -> Observed:
        self._enter("start")
        self.start_attempts[spec.network] += 1
        if spec.spec.image in self._unknown_images:
            raise RuntimeFailure(
                f"image {spec.spec.image} is not on this (fake) engine: build or push it first",
                field="image",
            )
        if spec.spec.log_paths and not self._capabilities.log_files:
            raise RuntimeFailure(
                f"start {spec.name}: this (fake) runtime collects no declared log files: "
                "remove log_paths from the service",
                field="log_paths",
            )
        if any(i.spec.name == spec.name for i in self._instances.values()):
            raise Conflict(f"an instance named {spec.name} exists: destroy it or use a new id")
        self._check_room(spec)
        self._engine.serial += 1
        serial = self._engine.serial
        now, ip = self._clock(), f"10.88.{serial // 250}.{serial % 250 + 2}"
        observed = Observed(
            instance_id=spec.instance_id,
            team=spec.team,
            service=spec.service,
            env=spec.env,
            revision=spec.revision,
            template_hash=spec.spec.template_hash,
            runtime_id=f"fake-{serial:06d}",
            state=RunState.RUNNING,
            ip=ip,
            created_at=now,
            started_at=now,
        )
        platform = self._platform.id if self._platform else None
        root = f"{self._files_dir}/{spec.instance_id}"
        service = spec.spec
        self._instances[observed.runtime_id] = _Instance(
            spec=spec,
            observed=observed,
            ip=ip,
            platform=platform,
            mounts=log_mounts(service.log_paths, root=root),
            labels={
                **log_labels(service.log_paths, service.log_multiline, root=root),
                **rate_labels(service.log_rate),
            },
        )
        return observed

    async def restart(self, observed: Observed) -> Observed:
        self._enter("restart")
        instance = self._instances.get(observed.runtime_id)
        if instance is None:
            raise NotFound(f"instance {observed.instance_id} is gone: start a new one")
        if instance.observed.state is not RunState.RUNNING:
            self._set(instance, state=RunState.RUNNING, exit_code=None, started=True)
        return instance.observed

    async def stop(self, observed: Observed, *, grace_s: float) -> None:
        self._enter("stop")
        instance = self._instances.get(observed.runtime_id)
        if instance is not None and instance.observed.state is not RunState.EXITED:
            self._set(instance, state=RunState.EXITED, exit_code=STOPPED_EXIT_CODE, finished=True)

    async def destroy(self, observed: Observed) -> None:
        self._enter("destroy")
        self._instances.pop(observed.runtime_id, None)

    async def list(self, owner: Owner) -> builtins.list[Observed]:
        self._enter("list")
        found = []
        for instance in self._instances.values():
            labels = {LABEL_PLATFORM: instance.platform} if instance.platform else {}
            if self._platform is not None and not self._platform.owns(labels):
                continue
            if _matches(instance.observed, owner):
                adopted = self._platform is not None and instance.platform is None
                found.append(replace(instance.observed, adopted=adopted))
        return found

    async def logs(self, observed: Observed, *, tail: int) -> builtins.list[str]:
        self._enter("logs")
        instance = self._instances.get(observed.runtime_id)
        if instance is None:
            raise NotFound(f"instance {observed.instance_id} is gone: its logs went with it")
        return instance.lines[-tail:] if tail > 0 else []

    async def probe(
        self, observed: Observed, check: HealthCheck, *, port: int | None
    ) -> ProbeResult:
        self._enter("probe")
        instance = self._instances.get(observed.runtime_id)
        if instance is None or instance.observed.state is not RunState.RUNNING:
            return ProbeResult(ok=False, detail="instance is not running")
        if check.http_path is not None and port is None and check.port is None:
            return ProbeResult(ok=False, detail="HTTP check has no port: set health_check.port")
        if check.tcp and port is None and check.port is None:
            return ProbeResult(ok=False, detail="TCP check has no port")
        return instance.probe or ProbeResult(ok=True, detail="fake: healthy")

    # -- internals ---------------------------------------------------------------------------

    def _enter(self, verb: str) -> None:
        self.calls[verb] += 1
        if self._unavailable:
            raise Unavailable(f"the fake engine is set unavailable ({verb}): retry later")

    def _check_room(self, spec: InstanceSpec) -> None:
        capacity = self._capacity.get(spec.network or "")
        if spec.network is None or capacity is None:
            return
        used = sum(1 for i in self._instances.values() if i.spec.network == spec.network)
        if used >= capacity:
            segment = spec.network.removeprefix(DOCKER_NETWORK_PREFIX)
            raise Exhausted(
                f"start {spec.name}: segment {segment} is exhausted ({used} of {capacity} used): "
                "scale something down or add a segment"
            )

    def _find(self, instance_id: str) -> _Instance:
        for instance in self._instances.values():
            if instance.observed.instance_id == InstanceId(instance_id):
                return instance
        raise KeyError(f"no fake instance {instance_id!r}: start it first")

    def _set(
        self,
        instance: _Instance,
        *,
        state: RunState,
        exit_code: int | None,
        started: bool = False,
        finished: bool = False,
    ) -> None:
        old, now = instance.observed, self._clock()
        instance.observed = replace(
            old,
            state=state,
            exit_code=exit_code,
            ip=instance.ip if state is RunState.RUNNING else None,
            started_at=now if started else old.started_at,
            finished_at=now if finished else (None if started else old.finished_at),
        )


def _matches(observed: Observed, owner: Owner) -> bool:
    return (
        (owner.team is None or observed.team == owner.team)
        and (owner.service is None or observed.service == owner.service)
        and (owner.env is None or observed.env == owner.env)
    )
