"""Page routes: the start page, a service's page, and the live fragment that keeps it fresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.environment import Environment
from dockyard.portal.auth import Viewer, current_viewer, portal_deps
from dockyard.portal.errors import Notice
from dockyard.portal.overview import load_overview
from dockyard.portal.rendering import is_htmx, render
from dockyard.portal.service_page import ServicePage, load_service_page

router = APIRouter()
ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def read_page(
    request: Request, viewer: Viewer, *, team: str, service: str, env: str | None
) -> ServicePage:
    return load_service_page(
        portal_deps(request).db,
        viewer.principal,
        team=team,
        service=service,
        env=Environment.parse(env) if env else None,
    )


def service_response(
    request: Request, viewer: Viewer, page: ServicePage, notice: Notice | None
) -> Response:
    """After a form: htmx gets the forms back plus out-of-band updates of everything live;
    a browser without htmx gets the whole page."""
    if is_htmx(request):
        return render(request, "_after_action.html", viewer=viewer, page=page, notice=notice)
    status = notice.status_code if notice else 200
    return render(
        request, "service.html", viewer=viewer, status_code=status, page=page, notice=notice
    )


@router.get("/")
def overview_page(request: Request, viewer: ViewerDep, team: str | None = None) -> Response:
    overview = load_overview(portal_deps(request).db, viewer.principal, picked=team)
    return render(request, "overview.html", viewer=viewer, overview=overview)


@router.get("/teams/{team}/services/{service}")
def service_page(
    request: Request, *, team: str, service: str, viewer: ViewerDep, env: str | None = None
) -> Response:
    page = read_page(request, viewer, team=team, service=service, env=env)
    return render(request, "service.html", viewer=viewer, page=page, notice=None)


@router.get("/teams/{team}/services/{service}/live")
def live_fragment(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    env: str | None = None,
    rev: str = "",
) -> Response:
    """Fresh cards and panel, swapped in out of band. The forms come along only when the
    current revision moved since they were drawn (`rev`), so typing into them is not undone
    by every poll, yet they never act on a revision the page no longer shows."""
    page = read_page(request, viewer, team=team, service=service, env=env)
    shown = int(rev) if rev.isdigit() else None
    return render(
        request, "_live.html", viewer=viewer, page=page, refresh_actions=shown != page.revision
    )
