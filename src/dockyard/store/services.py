"""Services: a team's named workloads and their container template.

Changing a service's template does not touch what runs: the next deploy to an environment
takes it. Deleting a service marks it; controllers scale every environment to zero and then
purge it, so nothing is left running and nothing is lost if the server dies half-way.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Integer, Text, bindparam, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.domain.environment import ALL_ENVIRONMENTS
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.ids import check_name
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.store.db import Reader
from dockyard.store.models import EnvironmentRow, ServiceRow, TeamRow
from dockyard.store.teams import team_row
from dockyard.store.views import ServiceStamp, ServiceView

MAX_PAGE = 500

# The hot reads use statements built once: building a select costs more than running it.
# As text: a stamp only compares it, and parsing a timestamp costs more than the rest of a row.
_CREATED = cast(ServiceRow.created_at, Text).label("created")
STAMP_COLUMNS = (ServiceRow.id, ServiceRow.name, ServiceRow.version, _CREATED)
"""The columns of a ServiceStamp, in its order."""
_PAGE_STAMPS = (
    select(*STAMP_COLUMNS)
    .join(TeamRow, ServiceRow.team_id == TeamRow.id)
    .where(
        TeamRow.name == bindparam("team"),
        ServiceRow.deleted_at.is_(None),
        ServiceRow.name > bindparam("after"),
    )
    .order_by(ServiceRow.name)
    .limit(bindparam("limit", type_=Integer))
)
_ONE_LIVE = (
    select(
        *STAMP_COLUMNS,
        ServiceRow.spec,
        ServiceRow.created_at,
        ServiceRow.updated_at,
        ServiceRow.deleted_at,
    )
    .join(TeamRow, ServiceRow.team_id == TeamRow.id)
    .where(
        TeamRow.name == bindparam("team"),
        ServiceRow.name == bindparam("name"),
        ServiceRow.deleted_at.is_(None),
    )
)
_TEAM_ID = select(TeamRow.id).where(TeamRow.name == bindparam("team"))


class ServiceColumns(Protocol):
    """A ServiceRow, or a result row with (at least) these of its columns."""

    @property
    def name(self) -> str: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def service_view(row: ServiceColumns, team: str) -> ServiceView:
    return ServiceView(
        team=team,
        name=row.name,
        spec=ServiceSpec.from_json(row.spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleting=row.deleted_at is not None,
    )


def service_not_found(*, team: str, name: str) -> NotFound:
    return NotFound(f"service {name!r} not found in team {team!r}; `dockyard services` lists them")


def service_row(session: Session, who: Principal, team: str, name: str) -> ServiceRow:
    """The live service `team/name`, or NotFound (also for other teams' services)."""
    who.require_team(team)
    row = session.scalar(
        select(ServiceRow)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(TeamRow.name == team, ServiceRow.name == name, ServiceRow.deleted_at.is_(None))
    )
    if row is None:
        raise service_not_found(team=team, name=name)
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


def check_page(who: Principal, team: str, limit: int) -> None:
    """NotFound for another team's services; Invalid for a page size out of bounds."""
    who.require_team(team)
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be 1-{MAX_PAGE}", field="limit")


def list_services(
    session: Session, who: Principal, *, team: str, limit: int = 100, after: str | None = None
) -> list[ServiceView]:
    """A page of live services by name; pass the last name as `after` for the next page."""
    check_page(who, team, limit)
    owner = team_row(session, team)
    query = select(ServiceRow).where(
        ServiceRow.team_id == owner.id, ServiceRow.deleted_at.is_(None)
    )
    if after:
        query = query.where(ServiceRow.name > after)
    rows = session.scalars(query.order_by(ServiceRow.name).limit(limit))
    return [service_view(row, team) for row in rows]


def service_stamps(
    reader: Reader, who: Principal, *, team: str, limit: int = 100, after: str | None = None
) -> list[ServiceStamp]:
    """The stamps of `list_services`' page, from one narrow query: NotFound for an unknown team."""
    check_page(who, team, limit)
    found = reader.execute(_PAGE_STAMPS, {"team": team, "after": after or "", "limit": limit})
    stamps = [ServiceStamp(*row) for row in found.all()]  # a row is a stamp's columns, in order
    # An empty page may mean no such team: ask only then, and answer as teams.team_row does.
    if not stamps and reader.execute(_TEAM_ID, {"team": team}).first() is None:
        raise NotFound(f"team {team!r} not found; `dockyard teams` lists the teams")
    return stamps


def stamped_service(
    reader: Reader, who: Principal, *, team: str, name: str
) -> tuple[ServiceStamp, ServiceView]:
    """The live service `team/name` with its stamp, or NotFound as `get_service` says it."""
    who.require_team(team)
    row = reader.execute(_ONE_LIVE, {"team": team, "name": name}).first()
    if row is None:
        raise service_not_found(team=team, name=name)
    return ServiceStamp(row.id, row.name, row.version, row.created), service_view(row, team)


def services_by_id(
    session: Session, *, team: str, ids: Collection[int]
) -> list[tuple[ServiceStamp, ServiceView]]:
    """The services of `team` with these row ids, each with the stamp of the version read
    (which may be newer than the stamp that named it). Missing ids are left out."""
    rows = session.execute(
        select(ServiceRow, _CREATED)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(ServiceRow.id.in_(ids), TeamRow.name == team)
    )
    return [
        (ServiceStamp(row.id, row.name, row.version, created), service_view(row, team))
        for row, created in rows
    ]


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


def live_services(session: Session, ids: Collection[int]) -> dict[int, datetime]:
    """Those of `ids` whose services exist and are not being deleted, with their creation
    times (an id alone may name a purged service's successor)."""
    if not ids:
        return {}
    rows = session.execute(
        select(ServiceRow.id, ServiceRow.created_at).where(
            ServiceRow.id.in_(ids), ServiceRow.deleted_at.is_(None)
        )
    )
    return {row.id: row.created_at for row in rows}
