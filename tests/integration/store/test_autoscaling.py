"""Autoscaling in the store: policies set and read, a change of replicas by hand pauses the
autoscaler (and says so), its own decisions do not, each decision is a revision with its reason,
an event and the figure it used."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dockyard.domain.autoscaling import Metric, Policy
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, NotFound
from dockyard.store import autoscale_decisions, autoscaling, releases
from dockyard.store.db import Database
from dockyard.store.models import EventRow

from .store_support import ADMIN, START, later, member

TEST = Environment.TEST
POLICY = Policy(min_replicas=1, max_replicas=8, metric=Metric.CPU, target_percent=70.0)


def _deployed(db: Database, replicas: int = 2) -> None:
    with db.session() as session:
        releases.deploy(
            session, releases.Change(ADMIN, START), team="alpha", service="web", env=TEST,
            replicas=replicas,
        )  # fmt: skip


def _set(db: Database, policy: Policy = POLICY) -> None:
    with db.session() as session:
        autoscaling.put_policy(
            session, member("alpha"), team="alpha", service="web", env=TEST, policy=policy,
            now=START,
        )  # fmt: skip


def _events(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(EventRow.message).order_by(EventRow.id)))


def test_a_policy_is_stored_and_read_back(db: Database, web: str) -> None:
    _set(db)
    with db.session() as session:
        view = autoscaling.get_policy(session, ADMIN, team="alpha", service=web, env=TEST)
    assert view.policy == POLICY
    assert view.paused is None
    assert view.updated_by == "alpha/ci"


def test_an_environment_without_a_policy_is_not_found_with_the_command_to_set_one(
    db: Database, web: str
) -> None:
    with db.session() as session, pytest.raises(NotFound) as missing:
        autoscaling.get_policy(session, ADMIN, team="alpha", service=web, env=TEST)
    assert "dockyard autoscale web --env test" in missing.value.message


def test_scaling_by_hand_pauses_the_autoscaler_and_says_so(db: Database, web: str) -> None:
    _deployed(db)
    _set(db)
    with db.session() as session:
        releases.scale(
            session, releases.Change(member("alpha", "bob"), later(seconds=5)), team="alpha",
            service=web, env=TEST, replicas=5,
        )  # fmt: skip
    with db.session() as session:
        view = autoscaling.get_policy(session, ADMIN, team="alpha", service=web, env=TEST)
    assert view.paused is not None and view.paused.startswith("scaled to 5 by alpha/bob")
    assert any(m.startswith("autoscaler paused: scaled to 5 by alpha/bob") for m in _events(db))
    with db.session() as session:
        resumed = autoscaling.set_paused(
            session, ADMIN, team="alpha", service=web, env=TEST, paused=False, now=later(seconds=9)
        )
    assert resumed.paused is None
    assert _events(db)[-1] == "autoscaler resumed by admin"


def test_a_deploy_that_keeps_the_replica_count_does_not_pause(db: Database, web: str) -> None:
    _deployed(db)
    _set(db)
    _deployed(db, replicas=2)
    with db.session() as session:
        assert autoscaling.targets(session)[0].paused is None


def test_a_decision_is_a_revision_with_its_reason_an_event_and_its_figure(
    db: Database, web: str
) -> None:
    _deployed(db)
    _set(db)
    reason = "autoscaler: cpu 182 % of target over 6 s → 2 → 4"
    with db.session() as session:
        (target,) = autoscaling.targets(session)
        assert (target.replicas, target.cpus) == (2, 0.5)
        number = autoscale_decisions.apply(
            session, target, replicas=4, figure=182.0, reason=reason, now=later(seconds=3)
        )
    with db.session() as session:
        (now,) = releases.history(session, ADMIN, team="alpha", service=web, env=TEST, limit=1)
        (decision,) = autoscale_decisions.recent(
            session, ADMIN, team="alpha", service=web, env=TEST
        )
        (target,) = autoscaling.targets(session)
    assert (now.number, now.replicas, now.cause, now.created_by) == (
        number, 4, reason, "alpha/autoscaler",
    )  # fmt: skip
    assert (decision.figure, decision.from_replicas, decision.to_replicas) == (182.0, 2, 4)
    assert _events(db)[-1] == reason
    assert target.paused is None  # its own change does not pause it


def test_a_decision_on_a_stale_revision_is_refused(db: Database, web: str) -> None:
    _deployed(db)
    _set(db)
    with db.session() as session:
        (target,) = autoscaling.targets(session)
    _deployed(db, replicas=3)
    with db.session() as session, pytest.raises(Conflict):
        autoscale_decisions.apply(
            session, target, replicas=4, figure=150.0, reason="x", now=later(seconds=3)
        )


def test_turning_autoscaling_off_keeps_the_replica_count(db: Database, web: str) -> None:
    _deployed(db, replicas=3)
    _set(db)
    with db.session() as session:
        autoscaling.delete_policy(
            session, ADMIN, team="alpha", service=web, env=TEST, now=later(seconds=1)
        )
    with db.session() as session:
        assert autoscaling.targets(session) == []
        (now,) = releases.history(session, ADMIN, team="alpha", service=web, env=TEST, limit=1)
    assert now.replicas == 3
