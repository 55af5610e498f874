"""Rollout planning: a pure function from (wanted, observed) to the next step.

Rules, after Kubernetes' Deployment controller: instances running the wanted template are
"current", others "old". Never more than `replicas + max_surge` instances exist, and ready
instances never drop below `replicas - max_unavailable` because of something this plan removes.
Scaling between revisions of one template starts or removes instances; it never restarts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.domain.spec import Strategy
from dockyard.domain.status import Health

# Which instances to give up first: those serving nothing, then the youngest (least proven).
_REMOVAL_ORDER = {
    Health.CRASHED: 0,
    Health.UNHEALTHY: 1,
    Health.PENDING: 2,
    Health.STARTING: 3,
    Health.STOPPING: 4,
    Health.DRAINING: 4,
    Health.READY: 5,
}
# Instances on their way out: neither counted as serving nor removed again.
_LEAVING = (Health.STOPPING, Health.DRAINING)


@dataclass(frozen=True)
class Member:
    """One existing instance as the planner needs to see it."""

    id: str
    template: str
    health: Health
    age_s: float = 0.0

    @property
    def ready(self) -> bool:
        return self.health is Health.READY


@dataclass(frozen=True)
class Wanted:
    template: str | None  # None: nothing deployed (or the service is being deleted)
    replicas: int
    strategy: Strategy = field(default_factory=Strategy)
    paused: bool = False  # a failed rollout: keep what serves, start nothing new


@dataclass(frozen=True)
class Plan:
    start: int = 0
    remove: tuple[str, ...] = ()

    @property
    def idle(self) -> bool:
        return self.start == 0 and not self.remove


def _removal_key(member: Member) -> tuple[int, float]:
    return (_REMOVAL_ORDER[member.health], member.age_s)


def _pick(members: list[Member], count: int) -> list[str]:
    return [m.id for m in sorted(members, key=_removal_key)[: max(count, 0)]]


def plan(wanted: Wanted, members: list[Member]) -> Plan:
    """The next step toward `wanted`, given the instances that exist now."""
    alive = [m for m in members if m.health not in _LEAVING]
    if wanted.template is None or wanted.replicas == 0:
        return Plan(remove=tuple(m.id for m in alive))
    current = [m for m in alive if m.template == wanted.template]
    old = [m for m in alive if m.template != wanted.template]
    n = wanted.replicas
    remove = _pick(current, len(current) - n)
    kept = [m for m in current if m.id not in remove]
    start = 0
    if not wanted.paused:
        ceiling = n + wanted.strategy.max_surge
        start = max(0, min(n - len(kept), ceiling - len(kept) - len(old)))
    remove += _old_to_remove(wanted, kept, old, paused=wanted.paused)
    return Plan(start=start, remove=tuple(remove))


def _old_to_remove(
    wanted: Wanted, current: list[Member], old: list[Member], *, paused: bool
) -> list[str]:
    """Old instances that can go now: all unready ones, and ready ones beyond the floor."""
    unready = [m for m in old if not m.ready]
    ready = [m for m in old if m.ready]
    floor = wanted.replicas - wanted.strategy.max_unavailable
    ready_now = sum(m.ready for m in current) + len(ready)
    spare = ready_now - floor
    if paused:
        # A failed rollout keeps every old instance that still serves.
        spare = 0
    return [m.id for m in unready] + _pick(ready, min(spare, len(ready)))
