"""Read side of one service's environments: current revision, status, instances, events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.principal import Principal
from dockyard.domain.status import EnvPhase
from dockyard.store.models import EnvironmentRow, EnvStatusRow, EventRow, InstanceRow, ReleaseRow
from dockyard.store.releases import release_view
from dockyard.store.services import service_row
from dockyard.store.views import EnvironmentView, EnvStatusView, EventView, InstanceView

MAX_EVENTS = 500


def _status(row: EnvStatusRow | None, *, deployed: bool) -> EnvStatusView:
    if row is None:
        phase = EnvPhase.PROGRESSING if deployed else EnvPhase.IDLE
        message = "waiting for the controller" if deployed else "never deployed"
        return EnvStatusView(phase.value, message, None, 0, 0, 0, None)
    return EnvStatusView(
        phase=row.phase,
        message=row.message,
        revision=row.revision,
        desired=row.desired,
        ready=row.ready,
        updated=row.updated,
        updated_at=row.updated_at,
    )


def instance_view(row: InstanceRow | Any) -> InstanceView:
    """An instance's view from its ORM row, or from a plain row with the same columns."""
    return InstanceView(
        id=row.id,
        env=Environment(row.env),
        revision=row.revision,
        state=row.state,
        health=row.health,
        restarts=row.restarts,
        exit_code=row.exit_code,
        last_log=row.last_log,
        ip=row.ip,
        started_at=row.started_at,
        ready_at=row.ready_at,
        updated_at=row.updated_at,
    )


def environments(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    only: Environment | None = None,
) -> list[EnvironmentView]:
    """All four environments (or `only` one), in the order test, sandbox, online, stable."""
    svc = service_row(session, who, team, service)
    wanted = [only] if only else list(ALL_ENVIRONMENTS)
    names = [env.value for env in wanted]
    envs = {
        row.name: row
        for row in session.scalars(
            select(EnvironmentRow).where(
                EnvironmentRow.service_id == svc.id, EnvironmentRow.name.in_(names)
            )
        )
    }
    statuses = {
        row.env: row
        for row in session.scalars(select(EnvStatusRow).where(EnvStatusRow.service_id == svc.id))
    }
    instances: dict[str, list[InstanceView]] = {}
    for row in session.scalars(
        select(InstanceRow)
        .where(InstanceRow.service_id == svc.id, InstanceRow.env.in_(names))
        .order_by(InstanceRow.started_at, InstanceRow.id)
    ):
        instances.setdefault(row.env, []).append(instance_view(row))
    current = {
        row.env: row
        for row in session.scalars(
            select(ReleaseRow)
            .join(
                EnvironmentRow,
                (EnvironmentRow.service_id == ReleaseRow.service_id)
                & (EnvironmentRow.name == ReleaseRow.env)
                & (EnvironmentRow.current_revision == ReleaseRow.number),
            )
            .where(ReleaseRow.service_id == svc.id)
        )
    }
    views = []
    for env in wanted:
        release = current.get(env.value)
        views.append(
            EnvironmentView(
                env=env,
                current=release_view(release, team=team, service=service) if release else None,
                status=_status(
                    statuses.get(env.value),
                    deployed=envs[env.value].current_revision is not None,
                ),
                instances=tuple(instances.get(env.value, ())),
            )
        )
    return views


def events(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment | None = None,
    limit: int = 50,
) -> list[EventView]:
    """Newest first."""
    if not 1 <= limit <= MAX_EVENTS:
        raise Invalid(f"limit must be 1-{MAX_EVENTS}", field="limit")
    svc = service_row(session, who, team, service)
    query = select(EventRow).where(EventRow.service_id == svc.id)
    if env is not None:
        query = query.where(EventRow.env == env.value)
    rows = session.scalars(query.order_by(EventRow.id.desc()).limit(limit))
    return [
        EventView(id=r.id, env=Environment(r.env), at=r.at, kind=r.kind, message=r.message)
        for r in rows
    ]
