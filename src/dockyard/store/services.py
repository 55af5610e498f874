"""Services: a team's named workloads and their container template.

Changing a service's template does not touch what runs: the next deploy to an environment
takes it. Deleting a service marks it; controllers scale every environment to zero and then
purge it, so nothing is left running and nothing is lost if the server dies half-way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.domain.environment import ALL_ENVIRONMENTS
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.ids import check_name
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.store.models import EnvironmentRow, ServiceRow, TeamRow
from dockyard.store.teams import team_row
from dockyard.store.views import ServiceView

MAX_PAGE = 500


def service_view(row: ServiceRow, team: str) -> ServiceView:
    return ServiceView(
        team=team,
        name=row.name,
        spec=ServiceSpec.from_json(row.spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleting=row.deleted_at is not None,
    )


def service_row(session: Session, who: Principal, team: str, name: str) -> ServiceRow:
    """The live service `team/name`, or NotFound (also for other teams' services)."""
    who.require_team(team)
    row = session.scalar(
        select(ServiceRow)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(TeamRow.name == team, ServiceRow.name == name, ServiceRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(
            f"service {name!r} not found in team {team!r}; `dockyard services` lists them"
        )
    return row


def create_service(
    session: Session, who: Principal, *, team: str, name: str, spec: ServiceSpec, now: datetime
) -> ServiceView:
    who.require_team(team)
    check_name(name, field="name")
    owner = team_row(session, team)
    taken = session.scalar(
        select(ServiceRow).where(ServiceRow.team_id == owner.id, ServiceRow.name == name)
    )
    if taken is not None:
        why = "is still being deleted; retry in a few seconds" if taken.deleted_at else "exists"
        raise Conflict(f"service {name!r} {why}")
    row = ServiceRow(
        team_id=owner.id, name=name, spec=spec.to_json(), created_at=now, updated_at=now
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"service {name!r} was just created by another request") from exc
    for env in ALL_ENVIRONMENTS:
        session.add(EnvironmentRow(service_id=row.id, name=env.value, current_revision=None))
    session.flush()
    return service_view(row, team)


def list_services(
    session: Session, who: Principal, *, team: str, limit: int = 100, after: str | None = None
) -> list[ServiceView]:
    """A page of live services by name; pass the last name as `after` for the next page."""
    who.require_team(team)
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be 1-{MAX_PAGE}", field="limit")
    owner = team_row(session, team)
    query = select(ServiceRow).where(
        ServiceRow.team_id == owner.id, ServiceRow.deleted_at.is_(None)
    )
    if after:
        query = query.where(ServiceRow.name > after)
    rows = session.scalars(query.order_by(ServiceRow.name).limit(limit))
    return [service_view(row, team) for row in rows]


def get_service(session: Session, who: Principal, *, team: str, name: str) -> ServiceView:
    return service_view(service_row(session, who, team, name), team)


def update_service(
    session: Session, who: Principal, *, team: str, name: str, spec: ServiceSpec, now: datetime
) -> ServiceView:
    """Replace the template. Running instances keep theirs until the next deploy."""
    row = service_row(session, who, team, name)
    row.spec = spec.to_json()
    row.updated_at = now
    return service_view(row, team)


def delete_service(
    session: Session, who: Principal, *, team: str, name: str, now: datetime
) -> ServiceView:
    row = service_row(session, who, team, name)
    row.deleted_at = now
    row.updated_at = now
    return service_view(row, team)
