"""Bandwidth limits in force: for each service and environment, those of its current revision.

The host agents read these (GET /api/v1/bandwidth) to shape running instances live, since a
container's labels keep only the limits it was started with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Bandwidth
from dockyard.store.models import EnvironmentRow, ReleaseRow, ServiceRow, TeamRow


@dataclass(frozen=True)
class LimitView:
    team: str
    service: str
    env: Environment
    revision: int
    bandwidth: Bandwidth


def limits_in_force(session: Session, who: Principal) -> list[LimitView]:
    """Every environment whose current revision sets a limit, ordered by team, service, env.

    An environment missing from the answer has no limits: its instances are unlimited. The
    admin sees every team; a team token its own team's services only.
    """
    query = (
        select(TeamRow.name, ServiceRow.name, ReleaseRow.env, ReleaseRow.number, ReleaseRow.spec)
        .join(ServiceRow, ServiceRow.team_id == TeamRow.id)
        .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
        .join(
            ReleaseRow,
            (ReleaseRow.service_id == EnvironmentRow.service_id)
            & (ReleaseRow.env == EnvironmentRow.name)
            & (ReleaseRow.number == EnvironmentRow.current_revision),
        )
        .order_by(TeamRow.name, ServiceRow.name, ReleaseRow.env)
    )
    if not who.is_admin:
        query = query.where(TeamRow.name == who.team)
    views = []
    for team, service, env, number, spec in session.execute(query):
        # Only the limits are read: parsing whole templates would cost a hundred times more.
        bandwidth = Bandwidth(**(spec.get("bandwidth") or {}))
        if bandwidth.limited:
            views.append(LimitView(team, service, Environment(env), number, bandwidth))
    return views
