"""The service page's charts: CPU, memory, network and restarts of each instance in the
environment shown, as JSON for static/charts.js, which draws them with uPlot, redraws them
every rendering.CHARTS_REFRESH_S and says so plainly when Prometheus does not answer (a 503
with the reason).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError, MetricsUnavailable
from dockyard.metrics import charts
from dockyard.portal.auth import portal_deps
from dockyard.portal.errors import notice_for
from dockyard.portal.pages import ViewerDep

router = APIRouter()


@router.get("/teams/{team}/services/{service}/charts")
async def charts_data(
    request: Request, *, team: str, service: str, viewer: ViewerDep, env: str = "test",
    range: str = charts.DEFAULT_RANGE,
) -> JSONResponse:  # fmt: skip
    """The drawing (metrics/charts.as_json), or `{"error", "message"}` with its status."""
    try:
        viewer.principal.require_team(team)
        reader = portal_deps(request).metrics
        if reader is None:
            raise MetricsUnavailable("this server has no Prometheus configured")
        span, drawn = await charts.service_drawing(
            reader, range, team=team, service=service, env=Environment.parse(env).value
        )
    except DockyardError as e:
        notice = notice_for(e)
        return JSONResponse(
            {"error": e.code, "message": notice.message}, status_code=notice.status_code
        )
    return JSONResponse(charts.as_json(range, span, drawn), headers={"Cache-Control": "no-store"})
