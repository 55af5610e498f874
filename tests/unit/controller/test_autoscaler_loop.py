"""The autoscaler's rounds over a real SQLite store and a fake agent: a rise in CPU scales up
with a revision, an event and the figure used; an agent that does not answer holds and says
why; a change by hand pauses it; no decision is made on a first reading alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from dockyard.controller.autoscaler import Autoscaler
from dockyard.domain.autoscaling import Metric, Policy
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.metrics.agent_figures import Figures, Reading
from dockyard.store import autoscale_decisions, autoscaling, releases, services, teams
from dockyard.store.db import Database
from dockyard.store.models import EventRow
from dockyard.store.releases import Change

from .conftest import ADMIN, ManualClock

TEST = Environment.TEST
OWNER = ("pay", "web", "test")
POLICY = Policy(min_replicas=1, max_replicas=8, metric=Metric.CPU, target_percent=50.0)


class FakeAgent:
    """Each instance's CPU seconds grow by `busy` x the limit per second read; `down` makes
    every read fail as an unreachable agent does."""

    def __init__(self, instances: int) -> None:
        self.busy = 0.25
        self.down = False
        self.cpu_s = dict.fromkeys((f"i{n}" for n in range(instances)), 0.0)
        self.last: datetime | None = None

    async def read(self, at: datetime) -> Reading:
        if self.down:
            raise Unavailable("the agent at http://127.0.0.1:9/metrics did not answer")
        if self.last is not None:
            for key in self.cpu_s:
                self.cpu_s[key] += self.busy * 0.5 * (at - self.last).total_seconds()
        self.last = at
        return Reading(at, {OWNER: {k: Figures(cpu_s=v) for k, v in self.cpu_s.items()}})


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    clock = ManualClock()
    with database.session() as s:
        teams.create_team(s, ADMIN, name="pay", description="", now=clock())
        spec = ServiceSpec(image="img/web:1", resources=Resources(cpus=0.5))
        services.create_service(s, ADMIN, team="pay", name="web", spec=spec, now=clock())
        releases.deploy(s, Change(ADMIN, clock()), team="pay", service="web", env=TEST, replicas=2)
        autoscaling.put_policy(
            s, ADMIN, team="pay", service="web", env=TEST, policy=POLICY, now=clock()
        )
    yield database
    database.close()


def _rounds(scaler: Autoscaler, clock: ManualClock, count: int) -> None:
    for _ in range(count):
        asyncio.run(scaler.round())
        clock.advance(2)


def _policy(db: Database) -> autoscaling.AutoscalingView:
    with db.session() as s:
        return autoscaling.get_policy(s, ADMIN, team="pay", service="web", env=TEST)


def _replicas(db: Database) -> int:
    with db.session() as s:
        (now,) = releases.history(s, ADMIN, team="pay", service="web", env=TEST, limit=1)
    return now.replicas


def test_a_rise_scales_up_with_a_revision_an_event_and_the_figure(db: Database) -> None:
    clock, agent = ManualClock(), FakeAgent(2)
    told: list[EnvKey] = []
    scaler = Autoscaler(db, agent.read, clock=clock, interval_s=2, notify=told.append)
    _rounds(scaler, clock, 2)
    assert _replicas(db) == 2
    assert _policy(db).status.startswith("active: cpu 50 % of target")
    agent.busy = 0.9  # 90 % of the limit: 180 % of the 50 % target
    _rounds(scaler, clock, 1)
    # The 6 s average holds one figure from before the rise: 115 % of target, 2 -> 3.
    assert _replicas(db) == 3
    _rounds(scaler, clock, 2)
    assert _replicas(db) == 4
    assert len(told) == 2 and set(told) == {EnvKey(told[0].service_id, TEST)}
    with db.session() as s:
        decision, first = autoscale_decisions.recent(s, ADMIN, team="pay", service="web", env=TEST)
        messages = list(s.scalars(select(EventRow.message).order_by(EventRow.id)))
        (now,) = releases.history(s, ADMIN, team="pay", service="web", env=TEST, limit=1)
    assert (first.figure, first.from_replicas, first.to_replicas) == (115.0, 2, 3)
    assert decision.figure == pytest.approx(180.0)
    assert (decision.from_replicas, decision.to_replicas) == (3, 4)
    assert now.cause == "autoscaler: cpu 180 % of target over 6 s → 3 → 4"
    assert messages[-1] == now.cause
    assert _policy(db).paused is None


def test_a_first_reading_alone_decides_nothing(db: Database) -> None:
    clock, agent = ManualClock(), FakeAgent(2)
    agent.busy = 0.9
    scaler = Autoscaler(db, agent.read, clock=clock, interval_s=2, notify=lambda _: None)
    _rounds(scaler, clock, 1)
    assert _replicas(db) == 2
    assert _policy(db).status == "holding: no figures from the agent yet"


def test_an_unreachable_agent_holds_and_the_status_says_why(db: Database) -> None:
    clock, agent = ManualClock(), FakeAgent(2)
    agent.down = True
    scaler = Autoscaler(db, agent.read, clock=clock, interval_s=2, notify=lambda _: None)
    _rounds(scaler, clock, 3)
    assert _replicas(db) == 2
    status = _policy(db).status
    assert status == "holding: the agent at http://127.0.0.1:9/metrics did not answer"


def test_scaling_by_hand_pauses_the_autoscaler_until_resumed(db: Database) -> None:
    clock, agent = ManualClock(), FakeAgent(2)
    scaler = Autoscaler(db, agent.read, clock=clock, interval_s=2, notify=lambda _: None)
    with db.session() as s:
        releases.scale(s, Change(ADMIN, clock()), team="pay", service="web", env=TEST, replicas=3)
    agent.busy = 0.9
    _rounds(scaler, clock, 3)
    assert _replicas(db) == 3
    assert _policy(db).status.startswith("paused: scaled to 3 by admin")
    with db.session() as s:
        autoscaling.set_paused(
            s, ADMIN, team="pay", service="web", env=TEST, paused=False, now=clock()
        )
    _rounds(scaler, clock, 1)
    assert _replicas(db) > 3
