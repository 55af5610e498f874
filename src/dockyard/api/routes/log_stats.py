"""A service's log figures: lines read, sent, dropped, indexed and archived per instance, the
consumers' lag, and what was lost, when and where, as the log center's processes reported them
in the last minutes. A team sees only its own services' (others' answer 404); the admin all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.bounds import LINE, NAME_MAX
from dockyard.api.deps import Deps
from dockyard.api.log_stats_schemas import LogStatsPublic
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable

router = APIRouter(tags=["logs"])

_NAME = {"min_length": 1, "max_length": NAME_MAX, "pattern": LINE}


@router.get("/logs/stats")
async def log_stats(
    *,
    who: Who,
    deps: Deps,
    team: Annotated[str, Query(**_NAME, description="The service's team.")],
    service: Annotated[str, Query(**_NAME, description="The service.")],
    env: Annotated[Environment, Query(description="The environment.")],
) -> LogStatsPublic:
    """Counts since each reporting process started (a restarted agent counts from 0 again);
    processes silent for 5 minutes are left out."""
    who.require_team(team)
    if deps.logs is None:
        raise Unavailable("the log center is not configured on this server")
    stats = await deps.logs.service_stats(team, service, env.value)
    return LogStatsPublic.of(stats)
