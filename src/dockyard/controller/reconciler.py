"""One reconcile pass for one (service, environment): re-read, diff, act, write status.

A pass trusts nothing from earlier passes but the database and the runtime: it lists the key's
instances by label, folds in the status it wrote last time, probes, decides (a pure function,
decide.py), acts, and writes the whole outcome in one transaction. A pass interrupted anywhere,
by a crash or `kill -9`, is simply done again by the next one; containers left half-started are
found by their labels and removed, so no duplicate or orphan survives.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from dockyard.controller import health
from dockyard.controller.config import ControllerSettings
from dockyard.controller.decide import (
    Decision,
    Situation,
    decide,
    next_look,
    transition_events,
)
from dockyard.controller.finalizer import AgentRuns, Finalized, LogsFinalizer, LogsShipped
from dockyard.controller.networks import SegmentNetworks
from dockyard.controller.segment_choice import SegmentChoice, candidates, order
from dockyard.controller.status import Outcome, summarize
from dockyard.domain.clock import Clock
from dockyard.domain.errors import Conflict, DockyardError, Exhausted, Unavailable
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Observed, Owner, RunState
from dockyard.domain.readiness import readiness
from dockyard.domain.segment import Segment
from dockyard.domain.spec import ServiceSpec
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.runtimes.base import Runtime
from dockyard.store import segments
from dockyard.store import status as store
from dockyard.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class _Pass:
    """The working state of one pass; discarded at its end."""

    key: EnvKey
    desired: store.Desired
    now: datetime
    records: dict[str, InstanceRecord]
    observed: dict[str, Observed]
    events: list[tuple[str, str]] = field(default_factory=list)
    failure: str | None = None
    start_refused: DockyardError | None = None
    """The first refusal of a start in this pass: later starts give up at once."""
    networks_ready: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    """Segment networks made sure of in this pass (one engine call per segment and pass)."""

    @property
    def spec(self) -> ServiceSpec | None:
        return self.desired.release.spec if self.desired.release else None

    @property
    def template(self) -> str | None:
        return self.desired.release.template_hash if self.desired.release else None

    def event(self, kind: str, message: str) -> None:
        self.events.append((kind, message))

    def situation(self, last: store.LastStatus | None) -> Situation:
        """What `decide` sees: the records as they stand now."""
        return Situation(self.desired, tuple(self.records.values()), last, self.now)


class Reconciler:
    """Drives one runtime toward the releases in one database. Safe to run one per key."""

    def __init__(
        self,
        db: Database,
        runtime: Runtime,
        *,
        clock: Clock,
        settings: ControllerSettings,
        networks: SegmentNetworks | None = None,
        logs_shipped: LogsShipped | None = None,
        agent_runs: AgentRuns | None = None,
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._networks = networks
        self._finalizer = LogsFinalizer(
            logs_shipped,
            wait_s=settings.logs_shipped_wait_s,
            poll_s=settings.logs_shipped_poll_s,
            agent_runs=agent_runs,
        )
        self._clock = clock
        self._settings = settings
        self._starts = asyncio.Semaphore(runtime.capabilities.parallel_starts)
        self._stops = asyncio.Semaphore(settings.parallel_stops)
        self._probed_at: dict[str, datetime] = {}

    async def reconcile(self, key: EnvKey) -> float | None:
        """Run one pass. Returns seconds until this key wants another look (None: resync)."""
        desired, records, last = await asyncio.to_thread(self._read, key)
        if desired is None:
            await asyncio.to_thread(self._forget, key)
            return None
        owner = Owner(team=desired.team, service=desired.service, env=key.env)
        try:
            observed = await self._runtime.list(owner)
        except Unavailable as exc:
            await self._write_unavailable(key, desired, records, exc, last)
            raise
        work = _Pass(
            key=key,
            desired=desired,
            now=self._clock(),
            records={r.id: r for r in records},
            observed={o.instance_id: o for o in observed},
        )
        await self._observe(work)
        decision = decide(work.situation(last), self._settings)
        work.failure = decision.failure
        try:
            await self._act(work, decision)
        except Unavailable as exc:
            # e.g. "IPAM unavailable": new instances wait, with the reason in status.
            await self._write_unavailable(key, desired, list(work.records.values()), exc, last)
            raise
        after = work.situation(last)
        summary = summarize(Outcome(desired, list(after.records), work.failure), last)
        work.events.extend(transition_events(after, summary.phase, work.failure))
        await asyncio.to_thread(self._write, work, summary)
        return next_look(after, self._settings, busy=not decision.idle)

    # -- reading and writing ------------------------------------------------------------------

    def _read(
        self, key: EnvKey
    ) -> tuple[store.Desired | None, list[InstanceRecord], store.LastStatus | None]:
        with self._db.session() as session:
            return (
                store.desired(session, key),
                store.instance_records(session, key),
                store.last_status(session, key),
            )

    def _segment_choice(self, work: _Pass) -> SegmentChoice:
        """The segments serving the key's environment, in the order to try them."""
        env = work.key.env
        with self._db.session() as session:
            listed = [(r.segment, r.created_at) for r in segments.list_segments(session)]
            fixed = segments.fixed_addresses(
                session, team=work.desired.team, service=work.desired.service, env=env
            )
        found = candidates(listed, env=env, fixed_in={item.segment for item in fixed})
        return SegmentChoice(env, order(found))

    def _forget(self, key: EnvKey) -> None:
        self._write_pass(key, records=[], status=_EMPTY, events=[], now=self._clock())

    def _write(self, work: _Pass, summary: EnvStatus) -> None:
        records = list(work.records.values())
        self._write_pass(
            work.key, records=records, status=summary, events=work.events, now=work.now
        )
        if work.desired.deleting and not work.records:
            with self._db.session() as session:
                if store.purge_service(session, work.key.service_id):
                    log.info("service purged service_id=%s", work.key.service_id)

    async def _write_unavailable(
        self,
        key: EnvKey,
        desired: store.Desired,
        records: list[InstanceRecord],
        exc: Unavailable,
        last: store.LastStatus | None,
    ) -> None:
        outcome = Outcome(desired, records, None, unavailable=exc.message)
        summary = summarize(outcome, last)
        await asyncio.to_thread(
            self._write_pass, key, records=records, status=summary, events=[], now=self._clock()
        )

    def _write_pass(
        self,
        key: EnvKey,
        *,
        records: list[InstanceRecord],
        status: EnvStatus,
        events: list[tuple[str, str]],
        now: datetime,
    ) -> None:
        """Write the pass's outcome, unless the key's service was purged meanwhile (by the pass
        over another of its environments): then there is nothing to write it for, and the key
        is forgotten. Its containers, if any, are left to the orphan collector."""
        try:
            with self._db.session() as session:
                written = store.write_pass(
                    session, key, records=records, status=status, events=events, now=now
                )
        except Conflict:
            # The purge committed between the check in write_pass and this write.
            with self._db.session() as session:
                if store.service_exists(session, key.service_id):
                    raise
            written = False
        if not written:
            log.info("service gone, its status not written service_id=%s env=%s", *_ids(key))

    # -- observing ----------------------------------------------------------------------------

    async def _observe(self, work: _Pass) -> None:
        """Fold the runtime's view into the records: gone, leftover, exited, probed."""
        for iid in [i for i in work.records if i not in work.observed]:
            if work.records[iid].health is not Health.DRAINING:  # else: wanted gone anyway
                work.event("disappeared", f"instance {iid} is gone from the runtime; replacing it")
            del work.records[iid]
        checks = []
        for iid, obs in list(work.observed.items()):
            record = work.records.get(iid) or self._adopt(obs)
            if obs.state is RunState.CREATED:
                # Only an interrupted start leaves a created-but-never-started container.
                await self._destroy(obs)
                work.records.pop(iid, None)
                del work.observed[iid]
                continue
            work.records[iid] = replace(record, runtime_id=obs.runtime_id, ip=obs.ip)
            if record.health is Health.DRAINING:
                # Out of service: neither probed nor restarted, only stopped once drained.
                work.records[iid] = replace(work.records[iid], state=obs.state.value)
            elif obs.state is RunState.EXITED:
                await self._note_exit(work, obs)
            else:
                checks.append(self._probe(work, obs))
        await asyncio.gather(*checks)

    def _adopt(self, obs: Observed) -> InstanceRecord:
        """A labelled instance with no record: started by a pass that died before writing."""
        return InstanceRecord(
            id=obs.instance_id,
            revision=obs.revision,
            template_hash=obs.template_hash,
            runtime_id=obs.runtime_id,
            state=obs.state.value,
            health=Health.STARTING,
            ip=obs.ip,
            started_at=obs.started_at or obs.created_at,
        )

    async def _note_exit(self, work: _Pass, obs: Observed) -> None:
        record = work.records[obs.instance_id]
        if record.health is Health.CRASHED:
            return
        try:
            lines = await self._runtime.logs(obs, tail=self._settings.log_tail)
        except DockyardError:
            lines = []
        work.records[obs.instance_id] = health.after_exit(
            record,
            exit_code=obs.exit_code,
            log="\n".join(lines),
            now=work.now,
            cap_s=self._settings.max_restart_delay_s,
        )
        last_line = lines[-1] if lines else "no output"
        work.event(
            "crashed", f"instance {obs.instance_id} exited with code {obs.exit_code}: {last_line}"
        )

    async def _probe(self, work: _Pass, obs: Observed) -> None:
        record = work.records[obs.instance_id]
        spec = work.spec if record.template_hash == work.template else None
        ready = readiness(spec) if spec is not None else None
        if ready is None or ready.check is None:
            # Nothing to probe: the template has no check and no TCP port, or the instance runs
            # an old template (its check is not at hand) kept only until the rollout replaces it.
            # Running counts as ready, so an adopted old instance is not retired as unready.
            if record.health is not Health.READY:
                work.records[obs.instance_id] = replace(
                    record, state="running", health=Health.READY, ready_at=work.now
                )
            return
        check = ready.check
        last = self._probed_at.get(obs.instance_id)
        period = health.probe_period(record, check, starting_s=self._settings.starting_probe_s)
        if last is not None and (work.now - last).total_seconds() < period * 0.9:
            return
        self._probed_at[obs.instance_id] = work.now
        result = await self._runtime.probe(obs, check, port=ready.port)
        updated = health.after_probe(record, ok=result.ok, check=check, now=work.now)
        if updated.health is Health.UNHEALTHY and record.health is not Health.UNHEALTHY:
            work.event(
                "unhealthy",
                f"instance {obs.instance_id} failed its health check: "
                f"{result.detail or 'no detail'}",
            )
        if updated.health is Health.UNHEALTHY:
            updated = health.mark_unhealthy_restart(
                updated, now=work.now, cap_s=self._settings.max_restart_delay_s
            )
        work.records[obs.instance_id] = replace(updated, state="running")

    # -- acting -------------------------------------------------------------------------------

    async def _act(self, work: _Pass, decision: Decision) -> None:
        for iid in decision.drain:
            record = work.records[iid]
            work.records[iid] = replace(
                record, health=Health.DRAINING, drain_until=decision.drain_until
            )
            self._probed_at.pop(iid, None)
            work.event(
                "draining",
                f"instance {iid} (revision {record.revision}) is out of service, stopped after "
                f"its drain period ({work.spec.drain_s if work.spec else 0:g} s)",
            )
        await asyncio.gather(
            *(self._remove(work, iid) for iid in decision.remove),
            *(self._restart(work, iid) for iid in decision.restart),
            self._start_many(work, decision.start),
        )

    async def _remove(self, work: _Pass, iid: str) -> None:
        obs = work.observed[iid]
        grace = work.spec.stop_grace_s if work.spec else 10.0
        async with self._stops:
            if obs.state is RunState.RUNNING:
                await self._runtime.stop(obs, grace_s=grace)
            await self._logs_out(work, iid)
            await self._runtime.destroy(obs)
        del work.records[iid]
        self._probed_at.pop(iid, None)
        work.event("removed", f"instance {iid} (revision {obs.revision}) stopped and removed")

    async def _logs_out(self, work: _Pass, iid: str) -> None:
        done = await self._finalizer.wait(iid)
        if done is Finalized.TIMED_OUT:
            work.event(
                "logs_incomplete",
                f"instance {iid} removed before the agent shipped its last log lines "
                f"(waited {self._finalizer.wait_s:g} s): its last lines may be "
                "missing from the log center; check the agent with `dockyard status`",
            )
        elif done is Finalized.NO_AGENT:
            work.event(
                "logs_incomplete",
                f"instance {iid} removed without its last log lines: no log agent runs on this "
                "host, so nobody could ship them; check the agent with `dockyard status`",
            )

    async def _restart(self, work: _Pass, iid: str) -> None:
        obs = work.observed[iid]
        async with self._starts:
            if obs.state is RunState.RUNNING:  # unhealthy: stop it first
                await self._runtime.stop(obs, grace_s=work.spec.stop_grace_s if work.spec else 10)
            fresh = await self._runtime.restart(obs)
        work.observed[iid] = fresh
        self._probed_at.pop(iid, None)
        record = health.after_restart(work.records[iid], now=work.now)
        work.records[iid] = replace(record, ip=fresh.ip, runtime_id=fresh.runtime_id)
        work.event("restarted", f"instance {iid} restarted (restart {record.restarts})")

    async def _start_many(self, work: _Pass, count: int) -> None:
        """Start `count` instances. Once one start is refused, starts not yet begun give up
        (the rest would be refused alike) and those under way are awaited, so the pass ends
        knowing every container it made: none is left half made behind its back."""
        if count <= 0 or work.desired.release is None:
            return
        choice = await asyncio.to_thread(self._segment_choice, work)
        results = await asyncio.gather(
            *(self._start(work, choice=choice) for _ in range(count)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, DockyardError):
                raise result
        refused = work.start_refused
        if refused is None:
            return
        if isinstance(refused, Unavailable):
            # A wait (IPAM or the engine down, every segment full): new instances wait.
            raise refused
        # A refusal (an image the engine lacks, say): the rollout cannot go on.
        revision = work.desired.release.number
        work.failure = f"cannot start instances of revision {revision}: {refused.message}"
        work.event("start-failed", work.failure)

    async def _start(self, work: _Pass, *, choice: SegmentChoice) -> None:
        release = work.desired.release
        assert release is not None  # checked by the caller
        spec = InstanceSpec(
            team=work.desired.team,
            service=work.desired.service,
            env=work.key.env,
            revision=release.number,
            instance_id=new_instance_id(),
            spec=release.spec,
        )
        # The segment is picked inside the bound: by then earlier starts have reported which
        # segments are full, so queued starts go straight to the next one.
        async with self._starts:
            if work.start_refused is not None:
                return
            try:
                obs = await self._start_on_segment(work, spec, choice)
            except DockyardError as exc:
                work.start_refused = work.start_refused or exc
                raise
        work.observed[obs.instance_id] = obs
        work.records[obs.instance_id] = InstanceRecord(
            id=obs.instance_id,
            revision=release.number,
            template_hash=release.template_hash,
            runtime_id=obs.runtime_id,
            state=obs.state.value,
            health=Health.STARTING,
            ip=obs.ip,
            started_at=work.now,
        )
        work.event("started", f"instance {obs.instance_id} of revision {release.number} started")
        await self._watch_first_ready(work, obs)

    async def _start_on_segment(
        self, work: _Pass, spec: InstanceSpec, choice: SegmentChoice
    ) -> Observed:
        """Start on the first segment with room, spilling over to the next on Exhausted.

        Raises what `choice.give_up` says once every segment refused; Unavailable (IPAM or the
        engine down) at once, since every segment would answer alike.
        """
        if not choice.uses_segments:
            return await self._runtime.start(spec)
        while (segment := choice.pick()) is not None:
            try:
                await self._ensure_network(work, segment)
            except Unavailable:
                raise
            except DockyardError as exc:
                choice.refuse(segment, exc)
                continue
            try:
                # A failed start leaves nothing behind, so the same instance id can try again.
                return await self._runtime.start(replace(spec, network=segment.docker_network))
            except Exhausted as exc:
                choice.refuse(segment, exc)
        raise choice.give_up()

    async def _ensure_network(self, work: _Pass, segment: Segment) -> None:
        if self._networks is None:
            return
        task = work.networks_ready.get(segment.name)
        if task is None:  # concurrent starts share one engine call
            task = asyncio.ensure_future(self._networks.ensure(segment))
            work.networks_ready[segment.name] = task
        await asyncio.shield(task)

    async def _watch_first_ready(self, work: _Pass, obs: Observed) -> None:
        """Probe a new instance every few tens of ms for a short window, as a person polling it
        would: most services are ready within it, and waiting for the next pass would add a
        pass interval to every start. Bounded, and outside the start bound."""
        ready = readiness(work.spec) if work.spec else None
        check = ready.check if ready else None
        if ready is None or check is None:
            await self._probe(work, obs)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.first_ready_window_s
        while True:
            result = await self._runtime.probe(obs, check, port=ready.port)
            record = work.records[obs.instance_id]
            if result.ok:
                work.records[obs.instance_id] = health.after_probe(
                    record, ok=True, check=check, now=self._clock()
                )
                break
            if loop.time() >= deadline:
                break
            await asyncio.sleep(self._settings.first_ready_poll_s)
        self._probed_at[obs.instance_id] = self._clock()

    async def _destroy(self, obs: Observed) -> None:
        async with self._stops:
            await self._runtime.destroy(obs)


def _ids(key: EnvKey) -> tuple[int, str]:
    return key.service_id, key.env.value


_EMPTY = EnvStatus(EnvPhase.IDLE, "service removed", None, 0, 0, 0)
