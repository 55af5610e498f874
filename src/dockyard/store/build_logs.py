"""Build logs as the log center's build shipper reads them: which builds have log text that
may not have reached the log stream yet, and that text from an offset on.

No principal is involved: only the server's own shipper calls these (the API reads logs
through store/builds.py, which checks the team).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dockyard.store.builds import BuildState
from dockyard.store.models import BuildLogRow, BuildRow, ServiceRow, TeamRow

MAX_READ = 256 * 1024
"""Characters one read returns: a build's log reaches the stream in pieces of at most this."""


@dataclass(frozen=True)
class BuildLogState:
    """Where one build's log stands: `size` characters written so far, `done` once the build
    ended (nothing more will be written), `finished_at` then."""

    build_id: int
    team: str
    service: str
    number: int
    size: int
    done: bool
    finished_at: datetime | None


def recent_logs(session: Session, *, finished_since: datetime) -> list[BuildLogState]:
    """Builds with a log that are running, or ended at or after `finished_since`, oldest
    first (those of deleted services too: their logs stay until retention)."""
    rows = session.execute(
        select(
            BuildRow.id,
            TeamRow.name,
            ServiceRow.name,
            BuildRow.number,
            BuildRow.log_size,
            BuildRow.state,
            BuildRow.finished_at,
        )
        .join(ServiceRow, ServiceRow.id == BuildRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(
            BuildRow.log_size > 0,
            or_(
                BuildRow.state == BuildState.RUNNING.value,
                BuildRow.finished_at >= finished_since,
            ),
        )
        .order_by(BuildRow.id)
    ).all()
    return [
        BuildLogState(
            build_id=build_id,
            team=team,
            service=service,
            number=number,
            size=size,
            done=BuildState(state).done,
            finished_at=finished_at,
        )
        for build_id, team, service, number, size, state, finished_at in rows
    ]


def log_text(session: Session, build_id: int, *, after: int, limit: int = MAX_READ) -> str:
    """Up to `limit` characters of build `build_id`'s log from offset `after` on ("" when the
    log is not that long)."""
    pieces = session.execute(
        select(BuildLogRow.start, BuildLogRow.text)
        .where(
            BuildLogRow.build_id == build_id,
            BuildLogRow.start + func.length(BuildLogRow.text) > after,
            BuildLogRow.start < after + limit,
        )
        .order_by(BuildLogRow.seq)
    ).all()
    if not pieces:
        return ""
    text = "".join(piece for _, piece in pieces)
    skip = max(0, after - pieces[0][0])
    return text[skip : skip + limit]


def build_ids(session: Session, *, team: str, service: str, number: int) -> list[int]:
    """The ids of build `number` of every service named `service` in `team` (a service deleted
    and made again under its name numbers its builds from 1 again), oldest first."""
    return list(
        session.scalars(
            select(BuildRow.id)
            .join(ServiceRow, ServiceRow.id == BuildRow.service_id)
            .join(TeamRow, TeamRow.id == ServiceRow.team_id)
            .where(TeamRow.name == team, ServiceRow.name == service, BuildRow.number == number)
            .order_by(BuildRow.id)
        )
    )


def latest_builds(
    session: Session, *, team: str, service: str, limit: int = 20
) -> list[tuple[int, int]]:
    """(number, id) of the latest `limit` builds of the service `service` of `team`, newest
    first."""
    return [
        (number, build_id)
        for number, build_id in session.execute(
            select(BuildRow.number, BuildRow.id)
            .join(ServiceRow, ServiceRow.id == BuildRow.service_id)
            .join(TeamRow, TeamRow.id == ServiceRow.team_id)
            .where(TeamRow.name == team, ServiceRow.name == service)
            .order_by(BuildRow.id.desc())
            .limit(limit)
        ).all()
    ]
