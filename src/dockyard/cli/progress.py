"""Following a rollout: poll the environment until the new revision is available or failed.

The decision (`verdict`) is a pure function of one environment snapshot; the loop around it
only polls, draws and stops. Ctrl-C stops the waiting, never the rollout.
"""

from __future__ import annotations

import enum
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn

from dockyard.cli.client import ApiClient
from dockyard.cli.context import CliEnv
from dockyard.cli.errors import CliError
from dockyard.cli.output import console, say


class Verdict(enum.Enum):
    WAIT = "wait"
    AVAILABLE = "available"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    DELETING = "deleting"


def verdict(environment: dict[str, Any], revision: int) -> Verdict:
    """Where the rollout of `revision` stands, judged from one environment snapshot.

    Until the controller reports on `revision` itself, an `available` left over from the
    revision before does not count.
    """
    status = environment.get("status") or {}
    seen = status.get("revision")
    phase = status.get("phase")
    if phase == "deleting":
        return Verdict.DELETING
    if isinstance(seen, int) and seen > revision:
        return Verdict.SUPERSEDED
    if seen != revision:
        return Verdict.WAIT
    if phase == "failed":
        return Verdict.FAILED
    done = status.get("ready") == status.get("desired")
    if phase == "available" or (phase == "idle" and status.get("desired") == 0 and done):
        return Verdict.AVAILABLE
    return Verdict.WAIT


def wait_for_rollout(
    client: ApiClient,
    path: str,
    *,
    revision: int,
    env: CliEnv,
    timeout_s: float,
    follow_hint: str,
) -> dict[str, Any]:
    """Poll `path` (an environment) until `revision` is available; return the last snapshot.

    Raises CliError (exit 1) when it failed, was superseded or deleted, or `timeout_s` passed;
    (exit 130) on Ctrl-C. `follow_hint` is the command that shows the rollout later.
    """
    out = console()
    deadline = env.monotonic() + timeout_s
    reporter = _Bar(out) if out.is_terminal else _Lines()
    try:
        with reporter:
            while True:
                snapshot = client.get(path)
                reporter.update(snapshot, revision)
                outcome = verdict(snapshot, revision)
                if outcome is not Verdict.WAIT:
                    return _conclude(outcome, snapshot, revision)
                if env.monotonic() >= deadline:
                    raise CliError(
                        f"revision {revision} is still rolling out after {timeout_s:g} s; "
                        f"it goes on: follow it with `{follow_hint}`"
                    )
                env.sleep(env.poll_interval_s)
    except KeyboardInterrupt:
        raise CliError(
            f"stopped waiting; revision {revision} keeps rolling out: "
            f"follow it with `{follow_hint}`",
            exit_code=130,
        ) from None


def _conclude(outcome: Verdict, snapshot: dict[str, Any], revision: int) -> dict[str, Any]:
    status = snapshot.get("status") or {}
    message = status.get("message") or "no reason given"
    if outcome is Verdict.AVAILABLE:
        say(
            f"revision {revision} is available: {status.get('ready')}/{status.get('desired')} ready"
        )
        return snapshot
    if outcome is Verdict.FAILED:
        raise CliError(f"revision {revision} failed: {message}")
    if outcome is Verdict.SUPERSEDED:
        raise CliError(
            f"revision {revision} was replaced by revision {status.get('revision')} "
            "before it finished rolling out"
        )
    raise CliError(f"the service is being deleted; revision {revision} will not roll out")


def _describe(status: dict[str, Any]) -> tuple[str, int, int, str]:
    return (
        str(status.get("phase") or "pending"),
        int(status.get("ready") or 0),
        int(status.get("desired") or 0),
        str(status.get("message") or ""),
    )


class _Bar:
    """A live bar on a terminal: phase, ready/desired, the controller's message."""

    def __init__(self, out: Any) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} ready"),
            TextColumn("{task.fields[message]}", markup=False),
            console=out,
        )
        self._task = self._progress.add_task("pending", total=None, message="")

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def update(self, snapshot: dict[str, Any], revision: int) -> None:
        status = snapshot.get("status") or {}
        if status.get("revision") != revision:
            return  # still describing the revision before; keep "pending"
        phase, ready, desired, message = _describe(status)
        self._progress.update(
            self._task, description=phase, completed=ready, total=desired, message=message
        )


class _Lines:
    """Off a terminal (CI logs, pipes): one line each time something changes."""

    def __init__(self) -> None:
        self._last: tuple[str, int, int, str] | None = None

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, snapshot: dict[str, Any], revision: int) -> None:
        status = snapshot.get("status") or {}
        if status.get("revision") != revision:
            return
        state = _describe(status)
        if state != self._last:
            self._last = state
            phase, ready, desired, message = state
            say(f"{phase}: {ready}/{desired} ready" + (f" - {message}" if message else ""))
