"""The portal application: pages, forms and static files, mounted by the server at `/ui`."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.domain.errors import DockyardError
from dockyard.portal import (
    actions,
    charts_panel,
    drain_panel,
    image_pages,
    log_pages,
    log_stats_panel,
    login,
    pages,
    segments_page,
)
from dockyard.portal.assets import STATIC_DIR, serve_vendor
from dockyard.portal.auth import LoginRequired, base_path
from dockyard.portal.deps import PortalDeps
from dockyard.portal.errors import notice_for
from dockyard.portal.rendering import is_htmx, render

# No inline script or style anywhere, so the policy can forbid both; frames are refused so
# a scale button can never be clicked through another site's overlay.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)


class SecurityHeaders:
    """Adds the same defensive headers to every portal response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = CONTENT_SECURITY_POLICY
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def return_path(request: Request) -> str:
    """The page to come back to after logging in: for htmx, the page, not the fragment."""
    current = request.headers.get("HX-Current-URL")
    url = urlsplit(current) if current and is_htmx(request) else request.url
    return f"{url.path}?{url.query}" if url.query else url.path


def login_required(request: Request, exc: Exception) -> Response:
    """Pages redirect to the login form and come back; htmx requests reload into it."""
    assert isinstance(exc, LoginRequired)
    query = {"next": return_path(request)}
    if exc.ended:
        query["reason"] = login.SESSION_ENDED
    target = f"{base_path(request)}/login?{urlencode(query)}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def dockyard_error(request: Request, exc: Exception) -> Response:
    """A page that cannot be shown (unknown service, database down) explains why."""
    assert isinstance(exc, DockyardError)
    notice = notice_for(exc)
    return render(request, "error.html", viewer=None, status_code=notice.status_code, notice=notice)


def build_portal(deps: PortalDeps) -> FastAPI:
    """The portal as an ASGI app; mount it (e.g. at `/ui`) in the server's app."""
    app = FastAPI(title="Dockyard portal", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.deps = deps
    app.add_middleware(SecurityHeaders)
    # The explicit vendor route comes before the mount, which serves the portal's own files.
    app.add_route("/static/vendor/{name}", serve_vendor, methods=["GET", "HEAD"])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (login, pages, actions, segments_page, image_pages, log_pages):
        app.include_router(module.router)
    app.include_router(log_stats_panel.router)
    app.include_router(drain_panel.router)
    app.include_router(charts_panel.router)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(DockyardError, dockyard_error)
    return app
