"""A team's alarm receivers (domain/alarm.py ReceiverSpec), added and removed through the API,
with how delivery to each last went: the server writes that after each delivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dockyard.domain.alarm import DeliveryState, ReceiverKind, ReceiverSpec
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.principal import Principal
from dockyard.store.models import AlarmReceiverRow, TeamRow
from dockyard.store.teams import team_row

MAX_PER_TEAM = 20


@dataclass(frozen=True)
class StoredReceiver:
    id: int
    spec: ReceiverSpec
    created_at: datetime
    state: DeliveryState


def _receiver(row: AlarmReceiverRow, team: str) -> StoredReceiver:
    return StoredReceiver(
        id=row.id,
        spec=ReceiverSpec(team=team, name=row.name, kind=ReceiverKind(row.kind), target=row.target),
        created_at=row.created_at,
        state=DeliveryState(
            delivered=row.delivered,
            failed=row.failed,
            last_error=row.last_error,
            last_attempt_at=row.last_attempt_at,
        ),
    )


def add_receiver(
    session: Session, who: Principal, spec: ReceiverSpec, *, now: datetime
) -> StoredReceiver:
    """Record a new receiver of `spec.team`; Conflict if the name is taken or the team has
    MAX_PER_TEAM."""
    who.require_team(spec.team)
    team = team_row(session, spec.team)
    names = set(
        session.scalars(select(AlarmReceiverRow.name).where(AlarmReceiverRow.team_id == team.id))
    )
    if spec.name in names:
        raise Conflict(f"team {spec.team} has a receiver {spec.name!r} already: remove it first")
    if len(names) >= MAX_PER_TEAM:
        raise Conflict(f"team {spec.team} has {MAX_PER_TEAM} receivers: remove one first")
    row = AlarmReceiverRow(
        team_id=team.id, name=spec.name, kind=str(spec.kind), target=spec.target,
        created_at=now, delivered=0, failed=0,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return _receiver(row, spec.team)


def list_receivers(session: Session, who: Principal, team: str) -> list[StoredReceiver]:
    who.require_team(team)
    return team_receivers(session, team)


def team_receivers(session: Session, team: str, names: Sequence[str] = ()) -> list[StoredReceiver]:
    """The team's receivers by name order (only those of `names` if any are given), for the
    platform's own delivery of alarms; none for an unknown team."""
    query = (
        select(AlarmReceiverRow)
        .join(TeamRow, TeamRow.id == AlarmReceiverRow.team_id)
        .where(TeamRow.name == team)
    )
    if names:
        query = query.where(AlarmReceiverRow.name.in_(names))
    return [_receiver(r, team) for r in session.scalars(query.order_by(AlarmReceiverRow.name))]


def remove_receiver(session: Session, who: Principal, team: str, name: str) -> StoredReceiver:
    who.require_team(team)
    row = session.scalar(
        select(AlarmReceiverRow)
        .join(TeamRow, TeamRow.id == AlarmReceiverRow.team_id)
        .where(TeamRow.name == team, AlarmReceiverRow.name == name)
    )
    if row is None:
        raise NotFound(
            f"team {team} has no receiver {name!r}; `dockyard alarms receivers list` lists them"
        )
    receiver = _receiver(row, team)
    session.delete(row)
    return receiver


def record_delivery(
    session: Session, receiver_id: int, *, ok: bool, error: str | None, at: datetime
) -> None:
    """Count one delivery (a receiver removed meanwhile stays removed)."""
    values = (
        {"delivered": AlarmReceiverRow.delivered + 1, "last_attempt_at": at}
        if ok
        else {
            "failed": AlarmReceiverRow.failed + 1,
            "last_error": (error or "failed")[:1000],
            "last_attempt_at": at,
        }
    )
    session.execute(
        update(AlarmReceiverRow).where(AlarmReceiverRow.id == receiver_id).values(**values)
    )
