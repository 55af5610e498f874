"""The controller's status remembers since when the current revision has been available (the
soak gate measures from it): kept while it stays available, cleared by any break."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockyard.domain.environment import Environment
from dockyard.domain.spec import ServiceSpec
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus
from dockyard.store import promotions, services, status, teams
from dockyard.store.db import Database
from tests.support.image_center import ADMIN

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def _pass(
    db: Database, key: EnvKey, phase: EnvPhase, revision: int, at: datetime
) -> datetime | None:
    with db.session() as session:
        status.write_pass(
            session, key, records=[], status=EnvStatus(phase, "", revision, 1, 1, 1),
            events=[], now=at,
        )  # fmt: skip
        return promotions.facts(session, key.service_id)[key.env].available_since


def test_available_since_holds_while_available_and_restarts_after_a_break(db: Database) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="soak", description="", now=T0)
        services.create_service(
            session, ADMIN, team="soak", name="web", spec=ServiceSpec(image="x"), now=T0
        )
        key = status.key_for(session, team="soak", service="web", env=Environment.TEST)
    assert key is not None
    at = [T0 + timedelta(seconds=10 * i) for i in range(7)]
    assert _pass(db, key, EnvPhase.PROGRESSING, 1, at[0]) is None
    assert _pass(db, key, EnvPhase.AVAILABLE, 1, at[1]) == at[1]
    assert _pass(db, key, EnvPhase.AVAILABLE, 1, at[2]) == at[1]
    assert _pass(db, key, EnvPhase.DEGRADED, 1, at[3]) is None
    assert _pass(db, key, EnvPhase.AVAILABLE, 1, at[4]) == at[4]
    assert _pass(db, key, EnvPhase.AVAILABLE, 2, at[5]) == at[5]  # a new revision starts over
    assert _pass(db, key, EnvPhase.AVAILABLE, 2, at[6]) == at[5]
