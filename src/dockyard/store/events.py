"""Events written by the platform's own processes rather than by a controller's pass: a line
in the story of every service of a team (the log indexer tells a team its lines went)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.store.models import EventRow, ServiceRow, TeamRow


def record_for_team(
    session: Session, *, team: str, env: str, kind: str, message: str, at: datetime
) -> int:
    """Append the event (`kind`, `message`) in environment `env` to every service of `team`,
    deleted ones included until they are purged (their logs stay until retention); returns
    how many services got it (0 for a team that does not exist, or has none)."""
    ids = session.scalars(
        select(ServiceRow.id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(TeamRow.name == team)
    ).all()
    for service_id in ids:
        session.add(EventRow(service_id=service_id, env=env, at=at, kind=kind, message=message))
    return len(ids)
