"""What every table shares: UTC timestamps, and transactions that commit whole or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import environments, releases, services, status, teams, tokens
from dockyard.store.db import Database
from dockyard.store.models import ServiceRow, TeamRow

from .store_support import ADMIN, SPEC, START, count, snapshot

# 12:00 UTC written as 19:00 at UTC+7: the same instant, handed in from another zone.
ELSEWHERE = START.astimezone(timezone(timedelta(hours=7)))


def _is_utc(moment: datetime | None) -> bool:
    return moment is not None and moment.utcoffset() == timedelta(0)


def test_timestamps_come_back_as_utc_whatever_zone_they_were_written_in(db: Database) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=ELSEWHERE)
        tokens.create_token(
            session,
            ADMIN,
            team="alpha",
            name="ci",
            expires_at=ELSEWHERE + timedelta(days=1),
            now=ELSEWHERE,
        )
        services.create_service(session, ADMIN, team="alpha", name="web", spec=SPEC, now=ELSEWHERE)
        releases.deploy(
            session,
            releases.Change(ADMIN, ELSEWHERE),
            team="alpha",
            service="web",
            env=Environment.TEST,
        )
    with db.session() as session:
        team = teams.get_team(session, ADMIN, "alpha")
        (token,) = tokens.list_tokens(session, ADMIN, team="alpha")
        service = services.get_service(session, ADMIN, team="alpha", name="web")
        (release,) = releases.history(
            session, ADMIN, team="alpha", service="web", env=Environment.TEST
        )

    stamps = [team.created_at, token.created_at, service.updated_at, release.created_at]
    assert stamps == [START] * 4
    assert all(_is_utc(stamp) for stamp in [*stamps, token.expires_at]), stamps


@pytest.mark.usefixtures("web")
def test_controller_timestamps_come_back_as_utc(db: Database) -> None:
    with db.session() as session:
        key = status.key_for(session, team="alpha", service="web", env=Environment.TEST)
        assert key is not None
        record = InstanceRecord(
            id="a",
            revision=1,
            template_hash="h",
            runtime_id="c",
            state="running",
            health=Health.READY,
            started_at=ELSEWHERE,
            ready_at=ELSEWHERE,
        )
        state = EnvStatus(EnvPhase.AVAILABLE, "", 1, 1, 1, 1)
        status.write_pass(
            session, key, records=[record], status=state, events=[("x", "y")], now=ELSEWHERE
        )
    with db.session() as session:
        (record,) = status.instance_records(session, key)
        (event,) = environments.events(session, ADMIN, team="alpha", service="web")
        last = status.last_status(session, key)

    assert last is not None
    stamps = [record.started_at, record.ready_at, event.at, last.rollout_started_at]
    assert stamps == [START] * 4
    assert all(_is_utc(stamp) for stamp in stamps), stamps


def test_a_naive_timestamp_is_refused_and_nothing_is_written(db: Database) -> None:
    naive = START.replace(tzinfo=None)
    with pytest.raises(StatementError, match="naive datetime"), db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=naive)
    assert count(db, TeamRow) == 0


def test_an_error_inside_a_transaction_undoes_every_write_in_it(db: Database) -> None:
    before = snapshot(db)
    with pytest.raises(RuntimeError, match="boom"), db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
        services.create_service(session, ADMIN, team="alpha", name="web", spec=SPEC, now=START)
        session.flush()
        raise RuntimeError("boom")
    assert snapshot(db) == before


def test_a_refused_change_undoes_the_writes_before_it(db: Database) -> None:
    with pytest.raises(Conflict), db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
        services.create_service(session, ADMIN, team="alpha", name="web", spec=SPEC, now=START)
        services.create_service(session, ADMIN, team="alpha", name="web", spec=SPEC, now=START)
    assert (count(db, TeamRow), count(db, ServiceRow)) == (0, 0)


def test_a_committed_transaction_is_seen_by_the_next(db: Database) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
    with db.session() as session:
        assert [t.name for t in teams.list_teams(session, ADMIN)] == ["alpha"]
