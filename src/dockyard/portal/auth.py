"""Who is looking at a page: the session cookie, the principal behind it, and CSRF protection.

The session cookie holds the API token itself (HttpOnly, SameSite=Strict), so the portal keeps
no session state and a restarted server still knows everyone. The CSRF token is an HMAC of a
fixed label keyed by that token: only someone who holds the cookie's value can compute it, it
survives restarts and server replicas, and it ends with the token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request

from dockyard.domain.errors import Forbidden, Unauthorized
from dockyard.domain.principal import Principal
from dockyard.portal.deps import PortalDeps
from dockyard.store.tokens import authenticate

COOKIE = "dockyard_portal"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_MAX_AGE_S = 8 * 3600  # bounds a forgotten session on a shared machine
MAX_TOKEN_CHARS = 200


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form.

    `ended` is True when a cookie was presented but its token is no longer accepted.
    """

    def __init__(self, *, ended: bool) -> None:
        super().__init__("login required")
        self.ended = ended


@dataclass(frozen=True)
class Viewer:
    """The logged-in principal and the CSRF token its forms must carry."""

    principal: Principal
    csrf: str


def portal_deps(request: Request) -> PortalDeps:
    deps: PortalDeps = request.app.state.deps
    return deps


def base_path(request: Request) -> str:
    """Where the portal is mounted (e.g. `/ui`), so links work under any prefix."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"dockyard-portal-csrf", hashlib.sha256).hexdigest()


def login(deps: PortalDeps, token: str) -> Principal:
    """The principal for a token typed into the login form, or Unauthorized saying why not."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("paste the whole API token (it starts with dy_)")
    with deps.db.session() as session:
        return authenticate(session, token, now=deps.clock())


def current_viewer(request: Request) -> Viewer:
    """The viewer of this request (a FastAPI dependency); raises LoginRequired without one."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired(ended=False)
    try:
        principal = login(portal_deps(request), token)
    except Unauthorized as exc:
        raise LoginRequired(ended=True) from exc
    return Viewer(principal=principal, csrf=csrf_for(token))


def check_csrf(request: Request, viewer: Viewer, submitted: str | None) -> None:
    """Refuse a state change whose form (or htmx header) does not carry the viewer's token."""
    presented = submitted or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(presented.encode(), viewer.csrf.encode()):
        raise Forbidden(
            "this form is out of date or was sent from another site; reload the page and try again"
        )
