"""Alarm history: each firing Alertmanager told the server of (webhook), then resolved,
acknowledged or silenced. One row per fingerprint and start, so the notices Alertmanager sends
again change nothing; each change is also an event of the service it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dockyard.domain.alarm import Alarm, AlarmState, Notice, Transition
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.principal import Principal
from dockyard.store.models import AlarmRow, EventRow, ServiceRow, TeamRow

MAX_LISTED = 500


@dataclass(frozen=True)
class Change:
    """A notice that changed the history: the alarm as it now stands, and what happened."""

    alarm: Alarm
    transition: Transition


def alarm_of(row: AlarmRow) -> Alarm:
    return Alarm(
        id=row.id,
        fingerprint=row.fingerprint,
        alertname=row.alertname,
        team=row.team,
        service=row.service,
        env=row.env,
        severity=row.severity,
        state=AlarmState(row.state),
        summary=row.summary,
        labels={str(k): str(v) for k, v in row.labels.items()},
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        silence_id=row.silence_id,
        silenced_until=row.silenced_until,
    )


def record(session: Session, notices: list[Notice], *, now: datetime) -> list[Change]:
    """Record each notice: a new firing, or the resolution of a known one. A notice that
    changes nothing (Alertmanager's repeats) is skipped; a resolution of a firing never seen
    is recorded as both, in that order."""
    changes: list[Change] = []
    for notice in notices:
        row = session.scalar(
            select(AlarmRow).where(
                AlarmRow.fingerprint == notice.fingerprint,
                AlarmRow.starts_at == notice.starts_at,
            )
        )
        if row is None:
            row = _new_row(notice, now=now)
            session.add(row)
            session.flush()
            changes.append(_changed(session, row, Transition.FIRED, now=now))
        if notice.state is AlarmState.RESOLVED and row.state != AlarmState.RESOLVED:
            row.state = str(AlarmState.RESOLVED)
            row.ends_at = notice.ends_at or now
            changes.append(_changed(session, row, Transition.RESOLVED, now=now))
    session.flush()
    return changes


def _new_row(notice: Notice, *, now: datetime) -> AlarmRow:
    labels = notice.labels
    return AlarmRow(
        fingerprint=notice.fingerprint[:64],
        starts_at=notice.starts_at,
        alertname=notice.alertname[:200],
        team=labels.get("team"),
        service=labels.get("service"),
        env=labels.get("env"),
        severity=labels.get("severity", "warning")[:20],
        state=str(AlarmState.FIRING),
        summary=notice.summary,
        labels=dict(labels),
        ends_at=None,
        received_at=now,
    )


def _changed(session: Session, row: AlarmRow, transition: Transition, *, now: datetime) -> Change:
    """The change, with an alarm_fired / alarm_resolved event on the alarm's service."""
    service_id = _service_id(session, row.team, row.service)
    if service_id is not None and row.env:
        what = f"{row.alertname} ({row.severity})"
        message = f"{what} {transition}" + (f": {row.summary}" if row.summary else "")
        session.add(
            EventRow(
                service_id=service_id, env=row.env, at=now, kind=f"alarm_{transition}",
                message=message,
            )
        )  # fmt: skip
    return Change(alarm_of(row), transition)


def _service_id(session: Session, team: str | None, service: str | None) -> int | None:
    if team is None or service is None:
        return None
    return session.scalar(
        select(ServiceRow.id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(TeamRow.name == team, ServiceRow.name == service, ServiceRow.deleted_at.is_(None))
    )


def list_alarms(
    session: Session,
    who: Principal,
    team: str,
    *,
    state: AlarmState | None = None,
    service: str | None = None,
    env: str | None = None,
    limit: int = 100,
    firing_first: bool = False,
) -> list[Alarm]:
    """The team's alarms, newest first (with `firing_first`, every firing one before any
    resolved one, so that newer resolved alarms never crowd a firing one out of `limit`);
    `state` None: all of them."""
    who.require_team(team)
    query = select(AlarmRow).where(AlarmRow.team == team)
    if state is not None:
        query = query.where(AlarmRow.state == str(state))
    if service is not None:
        query = query.where(AlarmRow.service == service)
    if env is not None:
        query = query.where(AlarmRow.env == env)
    if firing_first:
        query = query.order_by(case((AlarmRow.state == str(AlarmState.FIRING), 0), else_=1))
    limit = max(1, min(limit, MAX_LISTED))
    return [alarm_of(r) for r in session.scalars(query.order_by(AlarmRow.id.desc()).limit(limit))]


def platform_alarms(
    session: Session, who: Principal, *, state: AlarmState | None = None, limit: int = 100
) -> list[Alarm]:
    """Every alarm, host alarms (no team) included, newest first: the admin's view."""
    who.require_admin()
    query = select(AlarmRow)
    if state is not None:
        query = query.where(AlarmRow.state == str(state))
    limit = max(1, min(limit, MAX_LISTED))
    return [alarm_of(r) for r in session.scalars(query.order_by(AlarmRow.id.desc()).limit(limit))]


def firing_counts(session: Session, team: str) -> dict[str, int]:
    """Firing alarms per service of `team`, whatever the environment (services without any
    are absent)."""
    query = (
        select(AlarmRow.service, func.count())
        .where(
            AlarmRow.team == team,
            AlarmRow.state == str(AlarmState.FIRING),
            AlarmRow.service.is_not(None),
        )
        .group_by(AlarmRow.service)
    )
    return {str(service): int(count) for service, count in session.execute(query)}


def get_alarm(session: Session, who: Principal, team: str, alarm_id: int) -> Alarm:
    return alarm_of(_row(session, who, team, alarm_id))


def acknowledge(
    session: Session, who: Principal, team: str, alarm_id: int, *, now: datetime
) -> Alarm:
    """Record that `who` has seen the alarm; Conflict if someone already did."""
    row = _row(session, who, team, alarm_id)
    if row.acked_by is not None:
        raise Conflict(f"alarm {alarm_id} was acknowledged by {row.acked_by} already")
    row.acked_by, row.acked_at = who.actor, now
    session.flush()
    return alarm_of(row)


def set_silence(
    session: Session,
    who: Principal,
    team: str,
    alarm_id: int,
    *,
    silence_id: str | None,
    until: datetime | None,
) -> Alarm:
    """Record the Alertmanager silence of the alarm (None: none any more)."""
    row = _row(session, who, team, alarm_id)
    row.silence_id, row.silenced_until = silence_id, until
    session.flush()
    return alarm_of(row)


def _row(session: Session, who: Principal, team: str, alarm_id: int) -> AlarmRow:
    who.require_team(team)
    row = session.get(AlarmRow, alarm_id)
    if row is None or row.team != team:
        raise NotFound(f"team {team} has no alarm {alarm_id}; `dockyard alarms list` lists them")
    return row
