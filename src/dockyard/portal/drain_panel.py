"""The Logs tab's drains panel: the team's drains that take this service's lines in this
environment, with how delivery goes (delivered, pending, lag, lost, last error) as the drainer
last recorded it. The page asks for it with htmx when it loads and every POLL_S after; a viewer
of another team gets a 404, like the page itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.drain import Drain
from dockyard.domain.principal import Principal
from dockyard.portal.auth import base_path, portal_deps
from dockyard.portal.pages import ViewerDep
from dockyard.portal.rendering import render
from dockyard.store.db import Database
from dockyard.store.drains import list_drains

router = APIRouter()
POLL_S = 10


@dataclass(frozen=True)
class ShownDrain:
    name: str
    kind: str
    url: str
    delivered: int
    pending: int
    lost: int
    lag: str
    last_success: str
    last_error: str
    last_error_at: str


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def shown(drain: Drain, now: datetime) -> ShownDrain:
    state, lag = drain.state, drain.state.lag_s(now)
    return ShownDrain(
        name=drain.spec.name,
        kind=str(drain.spec.kind),
        url=drain.spec.url,
        delivered=state.delivered,
        pending=state.pending,
        lost=state.lost,
        lag="–" if lag is None else f"{lag:.0f} s",
        last_success=_when(state.last_success_at),
        last_error=state.last_error or "",
        last_error_at=_when(state.last_error_at),
    )


def taking(db: Database, who: Principal, *, team: str, service: str, env: str) -> list[Drain]:
    """The team's drains that take lines of `service` in `env`."""
    with db.session() as session:
        drains = list_drains(session, who, team)
    return [d for d in drains if d.spec.takes(team=team, service=service, env=env)]


@router.get("/teams/{team}/services/{service}/logs/drains")
async def drain_panel(
    request: Request, *, team: str, service: str, viewer: ViewerDep, env: str = "test"
) -> Response:
    """The panel's HTML fragment for the service in `env`."""
    deps = portal_deps(request)
    drains = await asyncio.to_thread(
        taking, deps.db, viewer.principal, team=team, service=service, env=env
    )
    now = deps.clock()
    service_url = f"{base_path(request)}/teams/{team}/services/{service}"
    return render(
        request,
        "_drains.html",
        viewer=viewer,
        drains=[shown(d, now) for d in drains],
        url=f"{service_url}/logs/drains?env={env}",
        team=team,
        poll_s=POLL_S,
    )
