"""Teams: created and removed by the platform admin; everything a team owns hangs off one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.ids import check_name
from dockyard.domain.principal import Principal
from dockyard.store.models import ServiceRow, TeamRow
from dockyard.store.views import TeamView


def _view(row: TeamRow) -> TeamView:
    return TeamView(name=row.name, description=row.description, created_at=row.created_at)


def team_row(session: Session, name: str) -> TeamRow:
    row = session.scalar(select(TeamRow).where(TeamRow.name == name))
    if row is None:
        raise NotFound(f"team {name!r} not found; `dockyard teams` lists the teams")
    return row


def create_team(
    session: Session, who: Principal, *, name: str, description: str, now: datetime
) -> TeamView:
    who.require_admin()
    check_name(name, field="name")
    if len(description) > 200:
        raise Invalid("description is longer than 200 characters", field="description")
    if session.scalar(select(TeamRow.id).where(TeamRow.name == name)) is not None:
        raise Conflict(f"team {name!r} already exists; choose another name")
    row = TeamRow(name=name, description=description, created_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name won
        raise Conflict(f"team {name!r} already exists; choose another name") from exc
    return _view(row)


def list_teams(session: Session, who: Principal) -> list[TeamView]:
    query = select(TeamRow).order_by(TeamRow.name)
    if not who.is_admin:
        query = query.where(TeamRow.name == who.team)
    return [_view(row) for row in session.scalars(query)]


def get_team(session: Session, who: Principal, name: str) -> TeamView:
    who.require_team(name)
    return _view(team_row(session, name))


def delete_team(session: Session, who: Principal, name: str) -> None:
    """Refused while the team has services, so nothing running is orphaned by accident."""
    who.require_admin()
    row = team_row(session, name)
    # Lock the team row before looking for services: a service created concurrently then either
    # committed first (and is seen below) or waits and fails its foreign key. Without the lock
    # it could be created in between and silently cascade away with the team.
    session.execute(update(TeamRow).where(TeamRow.id == row.id).values(name=TeamRow.name))
    if session.scalar(select(ServiceRow.id).where(ServiceRow.team_id == row.id).limit(1)):
        raise Conflict(
            f"team {name!r} still has services (deleted ones are removed once their instances "
            "have stopped); delete them first, or retry in a few seconds"
        )
    session.delete(row)
