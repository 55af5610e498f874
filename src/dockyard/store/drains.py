"""Log drains: a team's destinations for its log lines (domain/drain.py), added and removed
through the API by the team's members or the admin, read by the drainer (logs/drainer.py),
which alone writes each drain's delivery state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dockyard.domain.drain import Drain, DrainKind, DrainSpec, DrainState
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.principal import Principal
from dockyard.store.models import DrainRow, TeamRow
from dockyard.store.teams import team_row

MAX_PER_TEAM = 20
"""Each drain is a stream consumer and a connection: a bound keeps one team from many."""


def _drain(row: DrainRow, team: str) -> Drain:
    spec = DrainSpec(
        team=team,
        name=row.name,
        kind=DrainKind(row.kind),
        url=row.url,
        services=tuple(row.filters.get("services", ())),
        envs=tuple(Environment(e) for e in row.filters.get("envs", ())),
        headers=tuple((str(k), str(v)) for k, v in row.headers.items()),
        ca_file=row.ca_file,
        verify=row.verify,
    )
    state = DrainState(
        delivered=row.delivered,
        lost=row.lost,
        pending=row.pending,
        oldest_undelivered=row.oldest_undelivered,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        updated_at=row.state_at,
    )
    return Drain(id=row.id, spec=spec, created_at=row.created_at, state=state)


def add_drain(session: Session, who: Principal, spec: DrainSpec, *, now: datetime) -> Drain:
    """Record a new drain of `spec.team` (its members or the admin); Conflict if the name is
    taken or the team has MAX_PER_TEAM drains."""
    who.require_team(spec.team)
    team = team_row(session, spec.team)
    names = set(session.scalars(select(DrainRow.name).where(DrainRow.team_id == team.id)))
    if spec.name in names:
        raise Conflict(f"team {spec.team} has a drain {spec.name!r} already: remove it first")
    if len(names) >= MAX_PER_TEAM:
        raise Conflict(f"team {spec.team} has {MAX_PER_TEAM} drains, the most allowed: remove one")
    row = DrainRow(
        team_id=team.id,
        name=spec.name,
        kind=str(spec.kind),
        url=spec.url,
        filters={"services": list(spec.services), "envs": [str(e) for e in spec.envs]},
        headers=dict(spec.headers),
        ca_file=spec.ca_file,
        verify=spec.verify,
        created_at=now,
        delivered=0,
        lost=0,
        pending=0,
    )
    session.add(row)
    session.flush()
    return _drain(row, spec.team)


def list_drains(session: Session, who: Principal, team: str) -> list[Drain]:
    who.require_team(team)
    row = team_row(session, team)
    query = select(DrainRow).where(DrainRow.team_id == row.id).order_by(DrainRow.name)
    return [_drain(d, team) for d in session.scalars(query)]


def get_drain(session: Session, who: Principal, team: str, name: str) -> Drain:
    who.require_team(team)
    return _drain(_row(session, team, name), team)


def remove_drain(session: Session, who: Principal, team: str, name: str) -> Drain:
    """Remove the drain; the drainer deletes its stream consumer when it next reads the list."""
    who.require_team(team)
    row = _row(session, team, name)
    drain = _drain(row, team)
    session.delete(row)
    return drain


def all_drains(session: Session) -> list[Drain]:
    """Every team's drains (for the drainer, which acts for the platform)."""
    query = select(DrainRow, TeamRow.name).join(TeamRow, TeamRow.id == DrainRow.team_id)
    return [_drain(row, team) for row, team in session.execute(query.order_by(DrainRow.id))]


def write_state(session: Session, drain_id: int, state: DrainState) -> None:
    """Record a drain's delivery state; a drain removed meanwhile is left removed."""
    values: dict[str, Any] = {
        "delivered": state.delivered,
        "lost": state.lost,
        "pending": state.pending,
        "oldest_undelivered": state.oldest_undelivered,
        "last_success_at": state.last_success_at,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
        "state_at": state.updated_at,
    }
    session.execute(update(DrainRow).where(DrainRow.id == drain_id).values(**values))


def _row(session: Session, team: str, name: str) -> DrainRow:
    row = session.scalar(
        select(DrainRow)
        .join(TeamRow, TeamRow.id == DrainRow.team_id)
        .where(TeamRow.name == team, DrainRow.name == name)
    )
    if row is None:
        raise NotFound(f"team {team} has no drain {name!r}; `dockyard drains list` lists them")
    return row
