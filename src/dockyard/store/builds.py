"""Builds: requested by the API, claimed and run by a builder, their logs kept in pieces.

A build moves queued -> running -> succeeded | failed, once. A builder claims a queued build
with a conditional update (only one claimer can win), then renews its lease (`heartbeat_at`)
while it runs; a running build whose lease lapsed belonged to a server that died, and is
failed as interrupted. The log is appended in numbered pieces, each with its offset in the
whole log, so a reader can follow it from any offset while the build runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, NotFound
from dockyard.domain.principal import Principal
from dockyard.domain.source import GitSource, check_ref
from dockyard.store.images import ImageView, image_by_id, source_of
from dockyard.store.models import BuildLogRow, BuildRow, ServiceRow, TeamRow
from dockyard.store.services import service_row

MAX_BUILDS = 200
MAX_LOG_READ = 1024 * 1024
INTERRUPTED = (
    "interrupted: the server running this build stopped before it finished; run the build again"
)


class BuildState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self in (BuildState.SUCCEEDED, BuildState.FAILED)


@dataclass(frozen=True)
class BuildView:
    team: str
    service: str
    number: int
    ref: str
    force: bool
    deploy_to: Environment | None
    state: BuildState
    reason: str
    commit: str | None
    image: ImageView | None
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    log_size: int


@dataclass(frozen=True)
class Claimed:
    """A build a builder won, with everything it needs to run it."""

    id: int
    service_id: int
    team: str
    service: str
    number: int
    ref: str
    force: bool
    deploy_to: Environment | None
    requested_by: str
    source: GitSource
    source_trusted: bool = False
    """The admin set the source: a file:// path outside the source roots is allowed."""


@dataclass(frozen=True)
class LogPage:
    build_id: int
    text: str
    next: int
    """The offset to ask for next."""
    done: bool
    """True once the build finished and `text` reaches the end of its log."""
    state: BuildState


def _view(session: Session, row: BuildRow, *, team: str, service: str) -> BuildView:
    return BuildView(
        team=team,
        service=service,
        number=row.number,
        ref=row.ref,
        force=row.force,
        deploy_to=Environment(row.deploy_to) if row.deploy_to else None,
        state=BuildState(row.state),
        reason=row.reason,
        commit=row.commit,
        image=image_by_id(session, row.image_id) if row.image_id is not None else None,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        log_size=row.log_size,
    )


def request_build(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    ref: str | None,
    force: bool,
    deploy_to: Environment | None,
    now: datetime,
) -> BuildView:
    """Queue a build of `ref` (default: the source's branch). Invalid if the service has no
    source. Two requests racing for the same number: the second commit fails with Conflict."""
    svc = service_row(session, who, team, service)
    source = source_of(session, svc.id)
    if source is None:
        raise Invalid(
            f"service {service!r} has no source to build from: set one with "
            f"`dockyard source set {service} --repo URL`",
            field="source",
        )
    wanted = check_ref(ref) if ref else source.source.branch
    last = session.scalar(select(func.max(BuildRow.number)).where(BuildRow.service_id == svc.id))
    row = BuildRow(
        service_id=svc.id,
        number=(last or 0) + 1,
        ref=wanted,
        force=force,
        deploy_to=deploy_to.value if deploy_to else None,
        state=BuildState.QUEUED.value,
        reason="",
        requested_by=who.actor,
        requested_at=now,
        log_size=0,
    )
    session.add(row)
    session.flush()
    return _view(session, row, team=team, service=service)


def _row(session: Session, who: Principal, *, team: str, service: str, number: int) -> BuildRow:
    svc = service_row(session, who, team, service)
    row = session.scalar(
        select(BuildRow).where(BuildRow.service_id == svc.id, BuildRow.number == number)
    )
    if row is None:
        raise NotFound(f"build {number} of {service!r} not found; `dockyard builds` lists them")
    return row


def get_build(
    session: Session, who: Principal, *, team: str, service: str, number: int
) -> BuildView:
    row = _row(session, who, team=team, service=service, number=number)
    return _view(session, row, team=team, service=service)


def list_builds(
    session: Session, who: Principal, *, team: str, service: str, limit: int = 20
) -> list[BuildView]:
    """Newest first."""
    if not 1 <= limit <= MAX_BUILDS:
        raise Invalid(f"limit must be 1-{MAX_BUILDS}", field="limit")
    svc = service_row(session, who, team, service)
    rows = session.scalars(
        select(BuildRow)
        .where(BuildRow.service_id == svc.id)
        .order_by(BuildRow.number.desc())
        .limit(limit)
    )
    return [_view(session, row, team=team, service=service) for row in rows]


def read_log(
    session: Session, who: Principal, *, team: str, service: str, number: int, after: int = 0
) -> LogPage:
    """The log from offset `after` on (at most 1 MiB of it)."""
    if after < 0:
        raise Invalid("after must be an offset >= 0", field="after")
    row = _row(session, who, team=team, service=service, number=number)
    pieces = session.execute(
        select(BuildLogRow.start, BuildLogRow.text)
        .where(
            BuildLogRow.build_id == row.id,
            BuildLogRow.start + func.length(BuildLogRow.text) > after,
        )
        .order_by(BuildLogRow.seq)
    ).all()
    text = "".join(piece for _, piece in pieces)
    if pieces:
        text = text[max(0, after - pieces[0][0]) :]
    text = text[:MAX_LOG_READ]
    state = BuildState(row.state)
    end = after + len(text)
    done = state.done and end >= row.log_size
    return LogPage(build_id=row.id, text=text, next=end, done=done, state=state)


# -- the builder's side ---------------------------------------------------------------------


def claim_next(session: Session, *, worker: str, now: datetime) -> Claimed | None:
    """Take the oldest queued build for `worker`, or None if there is none (or another worker
    took it first: its conditional update wins, ours changes nothing)."""
    candidate = session.execute(
        select(BuildRow, TeamRow.name, ServiceRow.name)
        .join(ServiceRow, ServiceRow.id == BuildRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(BuildRow.state == BuildState.QUEUED.value, ServiceRow.deleted_at.is_(None))
        .order_by(BuildRow.id)
        .limit(1)
    ).first()
    if candidate is None:
        return None
    row, team, service = candidate
    won: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(BuildRow)
        .where(BuildRow.id == row.id, BuildRow.state == BuildState.QUEUED.value)
        .values(state=BuildState.RUNNING.value, started_at=now, heartbeat_at=now, worker=worker)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        return None
    source = source_of(session, row.service_id)
    if source is None:  # removed since the request: the build cannot run
        finish(session, row.id, failed="the service's source was removed", now=now)
        return None
    return Claimed(
        id=row.id,
        service_id=row.service_id,
        team=team,
        service=service,
        number=row.number,
        ref=row.ref,
        force=row.force,
        deploy_to=Environment(row.deploy_to) if row.deploy_to else None,
        requested_by=row.requested_by,
        source=source.source,
        source_trusted=source.trusted,
    )


def renew(session: Session, build_ids: list[int], *, now: datetime) -> None:
    """Extend the lease of running builds (the builder runs them still)."""
    if build_ids:
        session.execute(
            update(BuildRow)
            .where(BuildRow.id.in_(build_ids), BuildRow.state == BuildState.RUNNING.value)
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


def append_log(session: Session, build_id: int, *, seq: int, start: int, text: str) -> None:
    session.add(BuildLogRow(build_id=build_id, seq=seq, start=start, text=text))
    session.execute(
        update(BuildRow)
        .where(BuildRow.id == build_id)
        .values(log_size=start + len(text))
        .execution_options(synchronize_session=False)
    )


def set_commit(session: Session, build_id: int, commit: str) -> None:
    session.execute(
        update(BuildRow)
        .where(BuildRow.id == build_id)
        .values(commit=commit)
        .execution_options(synchronize_session=False)
    )


def finish(
    session: Session,
    build_id: int,
    *,
    now: datetime,
    image_id: int | None = None,
    failed: str | None = None,
) -> None:
    """End a build: succeeded with `image_id`, or failed saying why (`failed`)."""
    state = BuildState.FAILED if failed is not None else BuildState.SUCCEEDED
    session.execute(
        update(BuildRow)
        .where(BuildRow.id == build_id)
        .values(state=state.value, reason=failed or "", image_id=image_id, finished_at=now)
        .execution_options(synchronize_session=False)
    )


def fail_interrupted(session: Session, *, now: datetime, lease_s: float) -> list[int]:
    """Fail the running builds whose lease lapsed (their server died); their ids."""
    stale = list(
        session.scalars(
            select(BuildRow.id).where(
                BuildRow.state == BuildState.RUNNING.value,
                BuildRow.heartbeat_at < now - timedelta(seconds=lease_s),
            )
        )
    )
    for build_id in stale:
        finish(session, build_id, failed=INTERRUPTED, now=now)
    return stale
