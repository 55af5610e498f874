"""Templates and the few filters they use; every page gets the same base context from here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from dockyard.domain.readiness import readiness
from dockyard.domain.spec import ServiceSpec
from dockyard.images.hosted import remote_url
from dockyard.metrics import charts
from dockyard.portal.assets import INSTALL_COMMAND, PORTAL_DIR, missing_vendor_files
from dockyard.portal.auth import CSRF_FIELD, CSRF_HEADER, Viewer, base_path, portal_deps

HTMX_REQUEST = "HX-Request"
CHARTS_REFRESH_S = 10
"""How often the service page's charts fetch their figures again (static/charts.js)."""


def duration(seconds: float) -> str:
    """A short human duration: `42s`, `3m 12s`, `5h 02m`, `3d 4h`."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def age(moment: datetime | None, now: datetime) -> str:
    return "—" if moment is None else duration((now - moment).total_seconds())


def ago(moment: datetime | None, now: datetime) -> str:
    return "—" if moment is None else f"{duration((now - moment).total_seconds())} ago"


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def short_image(image: str) -> str:
    """Images pinned by digest are long: keep the name and the first 12 digest characters."""
    name, sep, digest = image.partition("@sha256:")
    return f"{name}@{digest[:12]}…" if sep else image


def image_brief(image: str) -> str:
    """The last path component with its tag (`api:1.5.0`): enough to tell revisions apart."""
    return short_image(image).rsplit("/", 1)[-1]


def readiness_text(spec: ServiceSpec) -> str:
    """The check an instance of `spec` passes before it gets traffic, in words."""
    return readiness(spec).text()


def git_remote(request: Request, team: str, service: str) -> str:
    """The service's git remote (push URL): at the server's public URL, else on the server
    this page came from."""
    public = portal_deps(request).public_url
    return remote_url(public or f"{request.url.scheme}://{request.url.netloc}", team, service)


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=PORTAL_DIR / "templates")
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    templates.env.filters.update(
        age=age,
        ago=ago,
        stamp=stamp,
        short_image=short_image,
        image_brief=image_brief,
        readiness=readiness_text,
    )
    templates.env.globals.update(
        git_remote=git_remote,
        chart_ranges=tuple(charts.RANGES),
        chart_range=charts.DEFAULT_RANGE,
        charts_refresh_s=CHARTS_REFRESH_S,
    )
    return templates


TEMPLATES = _templates()


def is_htmx(request: Request) -> bool:
    return request.headers.get(HTMX_REQUEST) == "true"


def render(
    request: Request,
    name: str,
    *,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """Render `name` with `context` and the base context every template may rely on."""
    full = {
        "base": base_path(request),
        "viewer": viewer,
        "csrf_field": CSRF_FIELD,
        "csrf_header": CSRF_HEADER,
        "missing_assets": missing_vendor_files(),
        "install_command": INSTALL_COMMAND,
        "now": portal_deps(request).clock(),
        **context,
    }
    return TEMPLATES.TemplateResponse(request, name, full, status_code=status_code)
