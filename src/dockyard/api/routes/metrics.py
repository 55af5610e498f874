"""Metrics: PromQL queries and named charts, read from Prometheus on the caller's behalf.

Prometheus itself is never exposed. A team token's expressions are confined to the team's
own series (metrics/isolation.py); the admin's run as written. Prometheus down answers 503
`metrics_unavailable`; an expression it or the parser refuses, 400 with the reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.bounds import LINE, TEXT, ServicePath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.metric_schemas import ChartsPublic, MetricsQueryPublic
from dockyard.api.schemas import ErrorBody
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.metrics import charts
from dockyard.metrics.isolation import MAX_QUERY_CHARS, confine

router = APIRouter(
    tags=["metrics"],
    responses={
        400: {
            "model": ErrorBody,
            "description": "PromQL the parser or Prometheus refuses, a bad time, step or range",
        }
    },
)

Expr = Annotated[
    str,
    Query(min_length=1, max_length=MAX_QUERY_CHARS, pattern=TEXT,
          description="A PromQL expression."),
]  # fmt: skip
Instant = Annotated[
    str,
    Query(min_length=1, max_length=40, pattern=LINE, description="Unix seconds or RFC 3339."),
]
RangeName = Annotated[
    str, Query(min_length=1, max_length=8, pattern=LINE, description="15m, 1h, 6h or 24h.")
]


def _as_caller(who: Principal, expr: str) -> str:
    return expr if who.team is None else confine(expr, who.team)


@router.get("/metrics/query")
async def metrics_query(
    *, who: Who, deps: Deps, query: Expr, time: Instant | None = None
) -> MetricsQueryPublic:
    """The value of `query` at `time` (default: now), like Prometheus's /api/v1/query."""
    expr = _as_caller(who, query)
    data = await deps.require_metrics().instant(expr, at=time)
    return MetricsQueryPublic(query=expr, data=data)


@router.get("/metrics/query_range")
async def metrics_query_range(
    *, who: Who, deps: Deps, query: Expr, start: Instant, end: Instant,
    step: Annotated[
        str, Query(min_length=1, max_length=20, pattern=LINE, description="e.g. 30s or 30.")
    ],
) -> MetricsQueryPublic:  # fmt: skip
    """`query` from `start` to `end` every `step`, like Prometheus's /api/v1/query_range."""
    expr = _as_caller(who, query)
    data = await deps.require_metrics().range(expr, start=start, end=end, step=step)
    return MetricsQueryPublic(query=expr, data=data)


@router.get("/teams/{team}/services/{svc}/charts")
async def service_charts(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps,
    env: Annotated[Environment, Query(description="The environment.")],
    range: RangeName = charts.DEFAULT_RANGE,
) -> ChartsPublic:  # fmt: skip
    """CPU (% of one core, and of its limit), memory, network received and sent, and restarts
    of each instance of the service in `env`, and its route's requests and 5xx answers per
    second, over the last `range`."""
    who.require_team(team)
    reader = deps.require_metrics()
    drawn = await charts.service_drawing(reader, range, team=team, service=svc, env=env.value)
    return ChartsPublic.of(range, *drawn)


@router.get("/hosts/charts")
async def host_charts(
    *, who: Who, deps: Deps, range: RangeName = charts.DEFAULT_RANGE
) -> ChartsPublic:
    """CPU busy, memory used, load and instances of every host (the admin only)."""
    who.require_admin()
    return ChartsPublic.of(range, *await charts.host_drawing(deps.require_metrics(), range))
