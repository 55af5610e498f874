"""Built-in alarms decided from a container engine's events, the moment they happen:
InstanceExited (a non-zero exit nobody asked for), InstanceOOMKilled, InstanceCrashLooping
(`crash_exits` exits nobody asked for within `crash_window`). Pure: events in, alerts out,
time taken from the events themselves.

"Asked for" means the engine was told to stop or kill the container (Dockyard's stop and
destroy, or an operator's `docker stop`): the engine reports that as a `kill` event before
the `die`. A kernel OOM kill is reported as `oom` instead, so a `die` that follows an `oom`
is the OOM alarm's, not also an exit alarm.

An exit and an OOM kill are events, not states: their alert fires for `hold` and then
resolves by itself. A crash loop lasts while enough exits are in the window: its end is
known from the exits alone (the `crash_exits`-th last exit plus the window), and is moved on
by every further exit. Memory is bounded: per container only a pending kill or OOM mark and
the exits within the window are kept, and a destroyed container is forgotten.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.metrics.alert import Alert, Identity

EXITED = "InstanceExited"
OOM_KILLED = "InstanceOOMKilled"
CRASH_LOOPING = "InstanceCrashLooping"
MARK_TTL = timedelta(minutes=10)
"""A kill or OOM mark older than this no longer explains a `die` (a stop grace is shorter)."""
MAX_CONTAINERS = 10_000
"""Marks and exit windows kept at most; beyond it the stalest are dropped (logged by the
caller through `dropped`)."""


@dataclass(frozen=True)
class Rules:
    """When the instance alarms fire. Defaults follow what operators expect from peers:
    CrashLoopBackOff-like after 3 unasked exits in 5 minutes."""

    crash_exits: int = 3
    crash_window: timedelta = timedelta(minutes=5)
    hold: timedelta = timedelta(minutes=5)
    """How long an exit or OOM alert stays firing (at least Alertmanager's group_wait, so
    its notification goes out before it resolves)."""


@dataclass(frozen=True)
class ContainerEvent:
    """One engine event of a Dockyard container: `action` is the engine's (kill, oom, die,
    destroy, ...); `exit_code` is set on a die."""

    action: str
    container: str
    identity: Identity
    at: datetime
    exit_code: int | None = None


@dataclass
class _Seen:
    """What is kept of one container between its events."""

    identity: Identity
    last_at: datetime
    asked_at: datetime | None = None
    oom_at: datetime | None = None
    exits: deque[datetime] | None = None
    crash_since: datetime | None = None


class InstanceAlarms:
    """Turns a host's container events into alerts (see the module's docstring)."""

    def __init__(self, rules: Rules | None = None, *, max_containers: int = MAX_CONTAINERS) -> None:
        self.rules = rules or Rules()
        self._max = max_containers
        self._seen: dict[str, _Seen] = {}
        self.dropped = 0
        """Containers forgotten to keep within `max_containers`."""

    @property
    def tracked(self) -> int:
        return len(self._seen)

    def observe(self, event: ContainerEvent) -> list[Alert]:
        """The alerts `event` fires or updates (often none)."""
        if event.action == "destroy":
            self._seen.pop(event.container, None)
            return []
        seen = self._remember(event)
        if event.action == "kill":
            seen.asked_at = event.at
            return []
        if event.action == "oom":
            seen.oom_at = event.at
            return [self._event_alert(OOM_KILLED, event, _oom_summary(event))]
        if event.action == "die":
            return self._died(seen, event)
        return []

    def _died(self, seen: _Seen, event: ContainerEvent) -> list[Alert]:
        asked, oom = _recent(seen.asked_at, event.at), _recent(seen.oom_at, event.at)
        seen.asked_at = seen.oom_at = None
        if asked:
            return []
        alerts = []
        if not oom and event.exit_code:
            alerts.append(self._event_alert(EXITED, event, _exit_summary(event)))
        crash = self._count_exit(seen, event.at)
        if crash is not None:
            alerts.append(crash)
        return alerts

    def _count_exit(self, seen: _Seen, at: datetime) -> Alert | None:
        """Adds an unasked exit; the crash-loop alert if the window now holds enough."""
        rules = self.rules
        exits = seen.exits if seen.exits is not None else deque()
        seen.exits = exits
        exits.append(at)
        while exits and exits[0] <= at - rules.crash_window:
            exits.popleft()
        while len(exits) > rules.crash_exits:  # only the last few decide when it ends
            exits.popleft()
        if len(exits) < rules.crash_exits:
            seen.crash_since = None
            return None
        if seen.crash_since is None:
            seen.crash_since = at
        window_min = rules.crash_window.total_seconds() / 60
        return Alert(
            name=CRASH_LOOPING,
            identity=seen.identity,
            severity="critical",
            summary=(
                f"instance {seen.identity.instance} exited {len(exits)} times within "
                f"{window_min:g} minutes without being asked to"
            ),
            starts_at=seen.crash_since,
            ends_at=exits[0] + rules.crash_window,
        )

    def _event_alert(self, name: str, event: ContainerEvent, summary: str) -> Alert:
        severity = "critical" if name == OOM_KILLED else "warning"
        return Alert(name, event.identity, severity, summary, event.at, event.at + self.rules.hold)

    def _remember(self, event: ContainerEvent) -> _Seen:
        seen = self._seen.get(event.container)
        if seen is None:
            if len(self._seen) >= self._max:
                self._evict()
            seen = self._seen[event.container] = _Seen(event.identity, event.at)
        seen.last_at = event.at
        return seen

    def _evict(self) -> None:
        """Drop the container heard of longest ago (its marks are stale by then)."""
        stalest = min(self._seen, key=lambda c: self._seen[c].last_at)
        del self._seen[stalest]
        self.dropped += 1


def _recent(mark: datetime | None, at: datetime) -> bool:
    return mark is not None and at - mark <= MARK_TTL


def _exit_summary(event: ContainerEvent) -> str:
    return (
        f"instance {event.identity.instance} exited with status {event.exit_code} "
        "without being asked to stop"
    )


def _oom_summary(event: ContainerEvent) -> str:
    return (
        f"a process of instance {event.identity.instance} was killed for lack of memory "
        "(it reached its memory limit)"
    )
