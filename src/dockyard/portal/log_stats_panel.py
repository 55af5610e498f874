"""The Logs tab's figures panel: per instance, lines read, sent, dropped, indexed, archived and
lost, the index's and the archive's lag, and each loss with its instance and time, as the log
center's processes reported them (logs/stats.py). The page asks for it with htmx when it loads
and every POLL_S after, so the figures move while the page is open; a viewer who may not see
the service gets a 404, like the page itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.errors import Unavailable
from dockyard.logs.archive import rfc3339
from dockyard.logs.record import BUILD_ENV, parse_env
from dockyard.logs.stats import InstanceStats, ServiceStats
from dockyard.portal.auth import base_path, portal_deps
from dockyard.portal.log_view import visible_instances
from dockyard.portal.pages import ViewerDep
from dockyard.portal.rendering import render

router = APIRouter()
POLL_S = 10


@dataclass(frozen=True)
class ShownLoss:
    time: str
    instance: str
    what: str
    bytes: int | None
    href: str


@dataclass(frozen=True)
class Panel:
    """What the panel shows; `reason` instead of figures when there are none."""

    url: str  # where the panel polls itself
    stats: ServiceStats | None = None
    reason: str = ""

    @property
    def rows(self) -> tuple[InstanceStats, ...]:
        return (*self.stats.instances, self.stats.total) if self.stats else ()

    def losses(self, service_url: str) -> tuple[ShownLoss, ...]:
        """Every loss of every instance, newest first, each linking its instance's row."""
        if self.stats is None:
            return ()
        env = self.stats.env
        found = [
            ShownLoss(rfc3339(loss.time_ns)[:19].replace("T", " "), i.instance, loss.what,
                      loss.bytes, f"{service_url}?env={env}#instance-{i.instance}")
            for i in self.stats.instances
            for loss in i.losses
        ]  # fmt: skip
        return tuple(sorted(found, key=lambda loss: loss.time, reverse=True))


@router.get("/teams/{team}/services/{service}/logs/stats")
async def log_stats_panel(
    request: Request, *, team: str, service: str, viewer: ViewerDep, env: str | None = None
) -> Response:
    """The panel's HTML fragment for the service in `env`."""
    selected, _ = await asyncio.to_thread(
        visible_instances, portal_deps(request).db, viewer.principal,
        team=team, service=service, env=parse_env(env) if env else None,
    )  # fmt: skip
    service_url = f"{base_path(request)}/teams/{team}/services/{service}"
    panel = Panel(url=f"{service_url}/logs/stats?env={selected}")
    center = portal_deps(request).logs
    if selected == BUILD_ENV:
        panel = Panel(url="", reason="Figures are kept per environment, not for build logs.")
    elif center is None:
        panel = Panel(url=panel.url, reason="The log center is not configured on this server.")
    else:
        try:
            stats = await center.service_stats(team, service, str(selected))
            panel = Panel(url=panel.url, stats=stats)
        except Unavailable as exc:
            panel = Panel(url=panel.url, reason=f"Figures unavailable: {exc.message}")
    return render(
        request, "_log_stats.html", viewer=viewer, panel=panel, service_url=service_url,
        poll_s=POLL_S,
    )  # fmt: skip
