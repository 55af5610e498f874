"""The autoscaler: on the leading server, every couple of seconds, read the agent's latest
figures, compute each autoscaled environment's utilisation, decide (metrics/scaling.py) and
write what was decided: a new revision with the reason as its cause, an event and the figure
(store/autoscale_decisions.py), and always the environment's status (active, paused or
holding, and why).

Samples and the decisions' memory (stabilisation windows, panic) are kept in memory: a new
leader starts them afresh, and the decision then waits a whole down window before scaling down,
so losing them costs only patience. Everything that matters is in the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dockyard.domain.clock import Clock
from dockyard.domain.errors import Conflict, DockyardError, Unavailable
from dockyard.domain.status import EnvKey
from dockyard.metrics.agent_figures import Reading, utilisation
from dockyard.metrics.scaling import STALE_S, Action, Decision, Sample, State, decide
from dockyard.store import autoscale_decisions, autoscaling
from dockyard.store.autoscaling import Target
from dockyard.store.db import Database

log = logging.getLogger("dockyard.autoscaler")

ReadFigures = Callable[[datetime], Awaitable[Reading]]
"""Reads the agent's figures now (metrics.agent_figures.AgentReader.read); Unavailable if
it cannot."""


@dataclass
class _Memory:
    samples: list[Sample] = field(default_factory=list)
    state: State = field(default_factory=State)


class Autoscaler:
    def __init__(
        self,
        db: Database,
        read: ReadFigures,
        *,
        clock: Clock,
        interval_s: float,
        notify: Callable[[EnvKey], None],
    ) -> None:
        self._db = db
        self._read = read
        self._clock = clock
        self._interval_s = interval_s
        self._notify = notify
        self._memory: dict[EnvKey, _Memory] = {}
        self._before: Reading | None = None
        self.rounds = 0

    async def run(self) -> None:
        """Decide every `interval_s` until cancelled. A round that fails is logged and the
        next one starts afresh: every round re-reads the policies and the figures."""
        log.info("autoscaler started, every %.1f s", self._interval_s)
        try:
            while True:
                try:
                    await self.round()
                except DockyardError as exc:
                    log.warning("autoscaler round failed: %s", exc.message)
                except Exception:
                    log.exception("autoscaler round failed")
                await asyncio.sleep(self._interval_s)
        finally:
            log.info("autoscaler stopped (no longer leading, or the server stops)")

    async def round(self) -> None:
        """One reading, one decision per autoscaled environment, their writes."""
        now = self._clock()
        reading, trouble = await self._reading(now)
        targets = await asyncio.to_thread(self._targets)
        decided = [(t, self._decide(t, reading, trouble, now)) for t in targets]
        gone = set(self._memory) - {_key(t) for t in targets}
        for key in gone:
            del self._memory[key]
        if reading is not None:
            self._before = reading
        changed = await asyncio.to_thread(self._write, decided, now)
        for key in changed:
            self._notify(key)
        self.rounds += 1

    async def _reading(self, now: datetime) -> tuple[Reading | None, str | None]:
        try:
            return await self._read(now), None
        except Unavailable as exc:
            return None, exc.message

    def _targets(self) -> list[Target]:
        with self._db.session() as session:
            return autoscaling.targets(session)

    def _decide(
        self, target: Target, reading: Reading | None, trouble: str | None, now: datetime
    ) -> Decision:
        memory = self._memory.setdefault(_key(target), _Memory())
        if reading is not None:
            owner = (target.team, target.service, target.env.value)
            measured = utilisation(
                self._before, reading, owner, metric=target.policy.metric, cpus=target.cpus
            )
            if measured is not None:
                memory.samples.append(Sample(now, measured[0], measured[1]))
        keep = max(target.policy.window_s, target.policy.panic_window_s, STALE_S)
        memory.samples = [s for s in memory.samples if now - s.at <= timedelta(seconds=keep)]
        decision = decide(
            target.policy, tuple(memory.samples), target.replicas, memory.state, now,
            paused=target.paused,
        )  # fmt: skip
        memory.state = decision.state
        if decision.action is Action.HOLD and trouble is not None and target.paused is None:
            return Decision(Action.HOLD, target.replicas, f"holding: {trouble}", decision.state)
        return decision

    def _write(self, decided: list[tuple[Target, Decision]], now: datetime) -> list[EnvKey]:
        """Each decision in a transaction of its own, so one conflict loses only itself."""
        changed = []
        for target, decision in decided:
            try:
                with self._db.session() as session:
                    if decision.action in (Action.UP, Action.DOWN):
                        number = autoscale_decisions.apply(
                            session, target, replicas=decision.replicas,
                            figure=decision.figure or 0.0, reason=decision.reason, now=now,
                        )  # fmt: skip
                        log.info("%s revision=%d %s", _names(target), number, decision.reason)
                        changed.append(_key(target))
                    autoscaling.record_status(
                        session, service_id=target.service_id, env=target.env,
                        status=_status(target, decision), now=now,
                    )  # fmt: skip
            except Conflict as exc:
                # Changed meanwhile (by hand, or a deploy): the next round decides on it.
                log.info("%s changed meanwhile, deciding again: %s", _names(target), exc.message)
        return changed


def _key(target: Target) -> EnvKey:
    return EnvKey(target.service_id, target.env)


def _names(target: Target) -> str:
    return f"team={target.team} service={target.service} env={target.env.value}"


def _status(target: Target, decision: Decision) -> str:
    if decision.action is Action.HOLD:
        return decision.reason
    panic = " (panic)" if decision.panicking else ""
    return (
        f"active: {target.policy.metric.value} {decision.figure or 0:.0f} % of target"
        f"{panic}, {decision.replicas} instances wanted"
    )
