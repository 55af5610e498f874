"""What one pass does, decided from what it saw. Pure: no I/O, `now` is part of the input.

The reconciler observes (lists the runtime, probes, folds exits into the records), hands the
result to `decide` as a `Situation`, and carries out the `Decision`: start so many instances,
drain these (out of service, stopped by a later pass once the service's drain period has
passed), remove those whose drain is over, restart those. Whether the rollout has failed
(crash loop, progress deadline, a failure already recorded), which instances a restart is due
for, what events a phase change writes and when to look again are decided here too, so each
is tested by a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.controller import health
from dockyard.controller.config import ControllerSettings
from dockyard.controller.plan import Member, Wanted, plan
from dockyard.domain.readiness import readiness
from dockyard.domain.status import EnvPhase, Health, InstanceRecord
from dockyard.store.status import Desired, LastStatus

# Phases a revision reaches only once it has been rolled out: from then on it cannot fail.
_SETTLED = (EnvPhase.AVAILABLE, EnvPhase.DEGRADED, EnvPhase.IDLE)


@dataclass(frozen=True)
class Situation:
    """What a pass knows once it has observed the runtime: the input of `decide`."""

    desired: Desired
    records: tuple[InstanceRecord, ...]
    """The key's instances after observation: gone ones dropped, exits and probes folded in."""
    last: LastStatus | None
    """What the previous pass wrote (None: the key's first pass)."""
    now: datetime

    @property
    def revision(self) -> int | None:
        return self.desired.release.number if self.desired.release else None

    @property
    def template(self) -> str | None:
        return self.desired.release.template_hash if self.desired.release else None

    @property
    def current(self) -> list[InstanceRecord]:
        """Instances running the wanted template."""
        return [r for r in self.records if r.template_hash == self.template]


@dataclass(frozen=True)
class Decision:
    """What the pass does next. `failure` is set when the rollout has failed (and is paused)."""

    start: int = 0
    remove: tuple[str, ...] = ()
    """Stopped and removed now: unready ones, and those whose drain is over."""
    drain: tuple[str, ...] = ()
    """Taken out of service now, and stopped once `drain_until` has passed."""
    drain_until: datetime | None = None
    restart: tuple[str, ...] = ()
    failure: str | None = None

    @property
    def idle(self) -> bool:
        """Nothing started, drained or removed (restarts are timed by back-off, drains by
        their period: `next_look` asks for a pass then)."""
        return self.start == 0 and not self.remove and not self.drain


def decide(situation: Situation, settings: ControllerSettings) -> Decision:
    """The next step for the key: judge the rollout, plan starts and removals (ready instances
    drain first), stop drained ones, restart those due."""
    failure = rollout_failure(situation, settings)
    step = plan(_wanted(situation, paused=failure is not None), _members(situation))
    drain_s = situation.desired.release.spec.drain_s if situation.desired.release else 0.0
    by_id = {r.id: r for r in situation.records}
    # Only an instance that serves has requests to finish: others go at once.
    drain = tuple(i for i in step.remove if drain_s > 0 and _serving(by_id[i]))
    remove = tuple(i for i in step.remove if i not in drain) + tuple(
        r.id for r in situation.records if _drained(r, situation.now)
    )
    restart = tuple(
        r.id
        for r in situation.records
        if r.id not in step.remove
        and r.template_hash == situation.template
        and health.restart_due(r, situation.now)
    )
    return Decision(
        start=step.start,
        remove=remove,
        drain=drain,
        drain_until=situation.now + timedelta(seconds=drain_s) if drain else None,
        restart=restart,
        failure=failure,
    )


def _serving(record: InstanceRecord) -> bool:
    return record.health is Health.READY and record.state == "running"


def _drained(record: InstanceRecord, now: datetime) -> bool:
    """A draining instance whose period is over, or that stopped serving by itself."""
    if record.health is not Health.DRAINING:
        return False
    return record.state != "running" or record.drain_until is None or record.drain_until <= now


def rollout_failure(situation: Situation, settings: ControllerSettings) -> str | None:
    """Why the rollout has failed, or None if it has not.

    Only a rollout can fail: once a revision has been available, later crashes make the
    environment degraded and are healed, never paused. A failed rollout stays failed until a
    new revision is asked for.
    """
    revision, last = situation.revision, situation.last
    settled = last is not None and last.revision == revision and last.phase in _SETTLED
    if settled or revision is None or situation.desired.deleting:
        return None
    looping = [
        r for r in situation.current
        if r.restarts >= settings.crash_loop_restarts and r.health is not Health.READY
    ]  # fmt: skip
    if looping:
        worst = looping[0]
        tail = worst.last_log.splitlines()[-1] if worst.last_log else "no output"
        return (
            f"revision {revision} is crash-looping: instance {worst.id} restarted "
            f"{worst.restarts} times, last exit code {worst.exit_code}: {tail}"
        )
    if last is not None and last.phase is EnvPhase.FAILED and last.revision == revision:
        return last.message
    if _past_deadline(situation, settings):
        ready = sum(r.health is Health.READY for r in situation.current)
        return (
            f"revision {revision} made no progress in "
            f"{settings.progress_deadline_s:g} s: {ready} of "
            f"{situation.desired.replicas} new instances ready"
        )
    return None


def _past_deadline(situation: Situation, settings: ControllerSettings) -> bool:
    """True if the rollout has had `progress_deadline_s` to get ready and has not.

    Time spent waiting for the runtime or IPAM does not count: each pass that waited restarts
    the count (store/status.py), and the pass right after one is not judged at all, since it
    is the first in a while that may act (its own look at the runtime may have been slow for
    the same reason).
    """
    last = situation.last
    if last is None or last.rollout_started_at is None or situation.revision is None:
        return False
    if last.revision != situation.revision or last.phase is EnvPhase.UNAVAILABLE:
        return False
    ready = sum(r.health is Health.READY for r in situation.current)
    waited = (situation.now - last.rollout_started_at).total_seconds()
    return ready < situation.desired.replicas and waited > settings.progress_deadline_s


def _wanted(situation: Situation, *, paused: bool) -> Wanted:
    release = situation.desired.release
    return Wanted(
        template=situation.template,
        replicas=situation.desired.replicas,
        strategy=release.spec.strategy if release else Wanted(None, 0).strategy,
        paused=paused,
    )


def _members(situation: Situation) -> list[Member]:
    now = situation.now
    return [
        Member(
            id=r.id,
            template=r.template_hash,
            health=r.health,
            age_s=(now - r.started_at).total_seconds() if r.started_at else 0.0,
        )
        for r in situation.records
    ]


def transition_events(
    situation: Situation, phase: EnvPhase, failure: str | None
) -> list[tuple[str, str]]:
    """Events for what changed since the last pass: a new revision, a phase reached."""
    release, last = situation.desired.release, situation.last
    revision = situation.revision
    events = []
    if release and (last is None or last.revision != revision):
        events.append(
            (
                "rollout",
                f"revision {revision}: {release.cause} "
                f"({release.replicas} replicas) by {release.created_by}",
            )
        )
    changed = last is None or last.phase != phase or last.revision != revision
    if changed and phase in (EnvPhase.AVAILABLE, EnvPhase.FAILED, EnvPhase.DEGRADED):
        events.append((phase.value, failure or f"revision {revision} is {phase.value}"))
    return events


def next_look(situation: Situation, settings: ControllerSettings, *, busy: bool) -> float | None:
    """Seconds until the key wants another pass (None: the resync will do), given the records
    as the pass left them: starting instances soon, a restart when its back-off ends, a
    drained instance when its period ends, ready ones at their health check's interval."""
    release = situation.desired.release
    check = readiness(release.spec).check if release else None
    delays: list[float] = []
    if busy:
        delays.append(settings.starting_probe_s)
    for record in situation.records:
        if record.health is Health.DRAINING and record.drain_until is not None:
            delays.append(max(0.05, (record.drain_until - situation.now).total_seconds()))
        elif record.health in (Health.STARTING, Health.PENDING):
            delays.append(settings.starting_probe_s)
        elif record.next_restart_at is not None:
            delays.append(max(0.05, (record.next_restart_at - situation.now).total_seconds()))
        elif record.health is Health.READY and check:
            delays.append(check.interval_s)
    return min(delays) if delays else None
