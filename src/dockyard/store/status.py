"""What controllers read (desired state per key) and write (instance and environment status).

A controller pass reads `desired` and `instance_records`, acts on the runtime, then writes the
whole outcome with `write_pass` in one transaction, so status is never half-updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, literal, select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store.models import (
    EnvironmentRow,
    EnvStatusRow,
    EventRow,
    InstanceRow,
    ReleaseRow,
    ServiceRow,
    TeamRow,
)
from dockyard.store.releases import release_view
from dockyard.store.views import ReleaseView


@dataclass(frozen=True)
class Desired:
    key: EnvKey
    team: str
    service: str
    release: ReleaseView | None  # None: never deployed here
    deleting: bool

    @property
    def replicas(self) -> int:
        if self.deleting or self.release is None:
            return 0
        return self.release.replicas


def keys(session: Session) -> list[EnvKey]:
    """Every key with something wanted or something running: deployed or with instances."""
    deployed = session.execute(
        select(EnvironmentRow.service_id, EnvironmentRow.name).where(
            EnvironmentRow.current_revision.is_not(None)
        )
    )
    running = session.execute(select(InstanceRow.service_id, InstanceRow.env).distinct())
    # A deleted service is purged by a pass over one of its keys, even if it never ran.
    deleted = session.execute(
        select(ServiceRow.id, literal(Environment.TEST.value)).where(
            ServiceRow.deleted_at.is_not(None)
        )
    )
    found = {EnvKey(sid, Environment(env)) for sid, env in [*deployed, *running, *deleted]}
    return sorted(found, key=str)


def key_for(session: Session, *, team: str, service: str, env: Environment) -> EnvKey | None:
    service_id = session.scalar(
        select(ServiceRow.id)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(TeamRow.name == team, ServiceRow.name == service)
    )
    return None if service_id is None else EnvKey(service_id, env)


def owned_keys(session: Session) -> set[tuple[str, str, str]]:
    """(team, service, env) of every key some reconciler looks after (see `keys`)."""
    names = {
        sid: (team, service)
        for sid, team, service in session.execute(
            select(ServiceRow.id, TeamRow.name, ServiceRow.name).join(
                TeamRow, ServiceRow.team_id == TeamRow.id
            )
        )
    }
    return {
        (*names[key.service_id], key.env.value) for key in keys(session) if key.service_id in names
    }


def desired(session: Session, key: EnvKey) -> Desired | None:
    """The desired state of `key`, or None if its service is gone entirely."""
    found = session.execute(
        select(ServiceRow, TeamRow.name, EnvironmentRow.current_revision)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
        .where(ServiceRow.id == key.service_id, EnvironmentRow.name == key.env.value)
    ).first()
    if found is None:
        return None
    svc, team, number = found
    release = None
    if number is not None:
        row = session.scalar(
            select(ReleaseRow).where(
                ReleaseRow.service_id == svc.id,
                ReleaseRow.env == key.env.value,
                ReleaseRow.number == number,
            )
        )
        release = None if row is None else release_view(row, team=team, service=svc.name)
    return Desired(
        key=key, team=team, service=svc.name, release=release, deleting=svc.deleted_at is not None
    )


def _record(row: InstanceRow) -> InstanceRecord:
    return InstanceRecord(
        id=row.id,
        revision=row.revision,
        template_hash=row.template_hash,
        runtime_id=row.runtime_id,
        state=row.state,
        health=Health(row.health),
        health_failures=row.health_failures,
        restarts=row.restarts,
        exit_code=row.exit_code,
        last_log=row.last_log,
        ip=row.ip,
        started_at=row.started_at,
        ready_at=row.ready_at,
        next_restart_at=row.next_restart_at,
        drain_until=row.drain_until,
    )


def instance_records(session: Session, key: EnvKey) -> list[InstanceRecord]:
    rows = session.scalars(
        select(InstanceRow).where(
            InstanceRow.service_id == key.service_id, InstanceRow.env == key.env.value
        )
    )
    return [_record(row) for row in rows]


def write_pass(
    session: Session,
    key: EnvKey,
    *,
    records: list[InstanceRecord],
    status: EnvStatus,
    events: list[tuple[str, str]],
    now: datetime,
) -> bool:
    """Replace the key's instance status with `records`, store `status`, append `events`.

    False, writing nothing, if the key's service no longer exists (purged since the pass read
    it): its rows went with it, and there is nothing to hang new ones on.
    """
    if not service_exists(session, key.service_id):
        return False
    where = (InstanceRow.service_id == key.service_id, InstanceRow.env == key.env.value)
    existing = {row.id: row for row in session.scalars(select(InstanceRow).where(*where))}
    keep = {record.id for record in records}
    gone = [iid for iid in existing if iid not in keep]
    if gone:
        session.execute(delete(InstanceRow).where(*where, InstanceRow.id.in_(gone)))
    for record in records:
        row = existing.get(record.id) or InstanceRow(
            id=record.id, service_id=key.service_id, env=key.env.value
        )
        _fill(row, record, now)
        session.add(row)
    _write_status(session, key, status, now)
    for kind, message in events:
        session.add(
            EventRow(
                service_id=key.service_id, env=key.env.value, at=now, kind=kind, message=message
            )
        )
    return True


def service_exists(session: Session, service_id: int) -> bool:
    """True if the service has not been purged (it may be marked deleted)."""
    return session.scalar(select(ServiceRow.id).where(ServiceRow.id == service_id)) is not None


def _fill(row: InstanceRow, record: InstanceRecord, now: datetime) -> None:
    row.revision = record.revision
    row.template_hash = record.template_hash
    row.runtime_id = record.runtime_id
    row.state = record.state
    row.health = record.health.value
    row.health_failures = record.health_failures
    row.restarts = record.restarts
    row.exit_code = record.exit_code
    row.last_log = record.last_log
    row.ip = record.ip
    row.started_at = record.started_at
    row.ready_at = record.ready_at
    row.next_restart_at = record.next_restart_at
    row.drain_until = record.drain_until
    row.updated_at = now


def _write_status(session: Session, key: EnvKey, status: EnvStatus, now: datetime) -> None:
    row = session.get(EnvStatusRow, (key.service_id, key.env.value))
    if row is None:
        row = EnvStatusRow(service_id=key.service_id, env=key.env.value)
        session.add(row)
    # The progress deadline counts from the revision's first pass, and again from each pass
    # that had to wait for the runtime or IPAM: an outage, however long, never fails a rollout.
    waited = status.phase is EnvPhase.UNAVAILABLE
    if status.revision != row.revision or row.rollout_started_at is None or waited:
        row.rollout_started_at = now
    row.available_since = _available_since(row, status, now)
    row.phase = status.phase.value
    row.message = status.message
    row.revision = status.revision
    row.desired = status.desired
    row.ready = status.ready
    row.updated = status.updated
    row.updated_at = now


def _available_since(row: EnvStatusRow, status: EnvStatus, now: datetime) -> datetime | None:
    """When the revision became available, kept while it stays so (promotion soak times)."""
    if status.phase is not EnvPhase.AVAILABLE:
        return None
    unbroken = row.phase == EnvPhase.AVAILABLE.value and row.revision == status.revision
    return row.available_since if unbroken and row.available_since else now


@dataclass(frozen=True)
class LastStatus:
    phase: EnvPhase
    message: str
    revision: int | None
    rollout_started_at: datetime | None
    """Where the progress deadline counts from: the revision's first pass, or the last pass
    that waited for the runtime (see `_write_status`)."""


def last_status(session: Session, key: EnvKey) -> LastStatus | None:
    """What the previous pass wrote, and when the controller first saw the current revision."""
    row = session.get(EnvStatusRow, (key.service_id, key.env.value))
    if row is None:
        return None
    return LastStatus(EnvPhase(row.phase), row.message, row.revision, row.rollout_started_at)


def purge_service(session: Session, service_id: int) -> bool:
    """Remove a deleted service once nothing of it runs. False if it still has instances."""
    svc = session.get(ServiceRow, service_id)
    if svc is None or svc.deleted_at is None:
        return False
    if session.scalar(select(InstanceRow.id).where(InstanceRow.service_id == service_id).limit(1)):
        return False
    for table in (EventRow, EnvStatusRow, ReleaseRow, EnvironmentRow):
        session.execute(delete(table).where(table.service_id == service_id))
    # A statement, not session.delete: every environment's pass of an emptied service purges
    # it, and the one that comes second must find nothing to do, not a stale row (Conflict).
    gone = session.execute(delete(ServiceRow).where(ServiceRow.id == service_id))
    session.expunge(svc)
    return bool(cast(CursorResult[Any], gone).rowcount)
