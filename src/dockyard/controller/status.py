"""What an environment's status says after a pass: phase, counts and a readable message."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store.status import Desired, LastStatus


@dataclass(frozen=True)
class Outcome:
    """The pass's view of the key once its actions ran."""

    desired: Desired
    records: list[InstanceRecord]
    failure: str | None  # why the rollout cannot progress, if it cannot
    unavailable: str | None = None  # the runtime did not answer


def summarize(outcome: Outcome, last: LastStatus | None) -> EnvStatus:
    desired = outcome.desired
    release = desired.release
    template = release.template_hash if release else None
    revision = release.number if release else None
    n = desired.replicas
    # Draining instances are on their way out: they count for nothing but the message.
    draining = sum(r.health is Health.DRAINING for r in outcome.records)
    live = [r for r in outcome.records if r.health is not Health.DRAINING]
    current = [r for r in live if r.template_hash == template]
    ready = sum(r.health is Health.READY for r in current)
    old = len(live) - len(current)
    complete = old == 0 and draining == 0 and len(current) == n and ready == n

    def status(phase: EnvPhase, message: str) -> EnvStatus:
        return EnvStatus(phase, message, revision, n, ready, len(current))

    if outcome.unavailable:
        return status(EnvPhase.UNAVAILABLE, outcome.unavailable)
    if desired.deleting:
        left = len(outcome.records)
        return status(EnvPhase.DELETING, f"service deleted: {left} instance(s) left to stop")
    if complete:
        if n == 0:
            return status(EnvPhase.IDLE, "scaled to zero" if release else "never deployed")
        return status(EnvPhase.AVAILABLE, f"revision {revision}: {ready} of {n} ready")
    if outcome.failure:
        return status(EnvPhase.FAILED, outcome.failure)
    settled = last is not None and last.revision == revision and old == 0 and not draining
    if settled and last is not None and last.phase in (EnvPhase.AVAILABLE, EnvPhase.DEGRADED):
        return status(EnvPhase.DEGRADED, f"revision {revision}: only {ready} of {n} ready")
    detail = f", {old} old instance(s) to retire" if old else ""
    detail += f", {draining} draining before they stop" if draining else ""
    return status(EnvPhase.PROGRESSING, f"revision {revision}: {ready} of {n} ready{detail}")
