"""How many instances each deployed service wants and has ready in each environment, as the
controllers last wrote it: what the leader's ServiceNoReadyInstances alarm reads
(controller/readiness_alarms.py). Ready counts every ready instance, of any revision: during
a rollout the old ones still serve."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.domain.status import Health
from dockyard.store.models import EnvStatusRow, InstanceRow, ServiceRow, TeamRow


@dataclass(frozen=True)
class ServiceReadiness:
    team: str
    service: str
    env: str
    desired: int
    ready: int


def readiness(session: Session) -> list[ServiceReadiness]:
    """One entry per (service, environment) with a status, in a stable order; services being
    deleted are left out (they want nothing)."""
    ready = (
        select(InstanceRow.service_id, InstanceRow.env, func.count().label("ready"))
        .where(InstanceRow.health == Health.READY.value)
        .group_by(InstanceRow.service_id, InstanceRow.env)
        .subquery()
    )
    rows = session.execute(
        select(
            TeamRow.name,
            ServiceRow.name,
            EnvStatusRow.env,
            EnvStatusRow.desired,
            func.coalesce(ready.c.ready, 0),
        )
        .join(ServiceRow, EnvStatusRow.service_id == ServiceRow.id)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .outerjoin(
            ready,
            (ready.c.service_id == EnvStatusRow.service_id) & (ready.c.env == EnvStatusRow.env),
        )
        .where(ServiceRow.deleted_at.is_(None))
        .order_by(TeamRow.name, ServiceRow.name, EnvStatusRow.env)
    )
    return [ServiceReadiness(t, s, e, int(d), int(r)) for t, s, e, d, r in rows]
