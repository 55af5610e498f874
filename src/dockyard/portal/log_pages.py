"""A service's Logs page: a search in the log query language (newest first, older pages by
cursor), a live view fed by server-sent events from the log center, and downloads.

Every route first checks that the viewer may see the service, exactly as the service page does
(another team's service is a 404). The live route holds one log-center follower while a view
is open and nothing else: when it cannot follow, it says so in an `error` event and the page's
script (static/logs.js) tries again with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import replace
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dockyard.domain.environment import ALL_ENVIRONMENTS
from dockyard.domain.errors import DockyardError, Unavailable
from dockyard.domain.sse import event
from dockyard.logs.center import Dropped, LogCenter
from dockyard.logs.index.base import MAX_LIMIT, Filters, Hit, Order
from dockyard.logs.live import server_sent
from dockyard.logs.query import LEVELS
from dockyard.logs.record import BUILD_ENV, LogEnv, parse_env
from dockyard.portal.auth import Viewer, base_path, portal_deps
from dockyard.portal.errors import notice_for
from dockyard.portal.log_origins import origins_of, with_origin
from dockyard.portal.log_view import (
    LIVE_TAIL,
    PAGE_LINES,
    LogForm,
    LogPage,
    shown,
    visible_instances,
)
from dockyard.portal.pages import ViewerDep
from dockyard.portal.rendering import render
from dockyard.store.origins import Origin

router = APIRouter()
LOGS = "/teams/{team}/services/{service}/logs"
KEEP_ALIVE_S = 15.0
"""The live view sends a comment this often, so proxies and the browser know it is alive."""
FormText = Annotated[str, Query(max_length=1024)]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LOG_ENVS: tuple[LogEnv, ...] = (*ALL_ENVIRONMENTS, BUILD_ENV)
"""The environments the page offers: the four, and the service's build logs."""


def _service_url(request: Request, team: str, service: str) -> str:
    return f"{base_path(request)}/teams/{team}/services/{service}"


def _center(request: Request) -> LogCenter:
    center = portal_deps(request).logs
    if center is None:
        raise Unavailable("the log center is not configured on this server: logs cannot be shown")
    return center


async def _visible(
    request: Request, viewer: Viewer, team: str, service: str, env: str | None
) -> tuple[LogEnv, tuple[str, ...]]:
    """The environment shown and its instances; NotFound (a 404 page) for a service the
    viewer may not see, Invalid for an unknown environment."""
    return await asyncio.to_thread(
        visible_instances, portal_deps(request).db, viewer.principal,
        team=team, service=service, env=parse_env(env) if env else None,
    )  # fmt: skip


@router.get(LOGS)
async def logs_page(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    env: str | None = None,
    q: FormText = "",
    instance: FormText = "",
    stream: FormText = "",
    level: FormText = "",
    since: FormText = "",
    until: FormText = "",
    cursor: FormText = "",
) -> Response:
    """The search form and one page of matching lines, newest first; a form the log center
    refuses (or no log center) shows the page with the reason instead of lines."""
    selected, instances = await _visible(request, viewer, team, service, env)
    form = LogForm(q=q, instance=instance, stream=stream, level=level, since=since, until=until)
    page = LogPage(team=team, service=service, env=selected, form=form, instances=instances)
    notice = None
    try:
        filters = form.filters(team=team, service=service, env=selected)
        found = await _center(request).search(
            filters, q, cursor=cursor or None, order=Order.NEWEST, limit=PAGE_LINES
        )
        url = _service_url(request, team, service)
        lines = tuple(shown(hit, service_url=url) for hit in found.hits)
        named = {line.instance for line in lines}
        known = await origins_of(request, viewer, team=team, service=service, instances=named)
        lines = tuple(with_origin(line, known) for line in lines)
        page = replace(page, lines=lines, next_cursor=found.next_cursor)
    except DockyardError as exc:
        notice = notice_for(exc)
    return render(
        request, "logs.html", viewer=viewer, page=page, notice=notice, envs=LOG_ENVS,
        tail=LIVE_TAIL, levels=LEVELS, status_code=notice.status_code if notice else 200,
    )  # fmt: skip


@router.get(LOGS + "/follow")
async def follow_logs(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    env: str | None = None,
    q: FormText = "",
    tail: Annotated[int, Query(ge=0, le=MAX_LIMIT)] = LIVE_TAIL,
) -> Response:
    """Server-sent events: the last `tail` lines matching `q`, then each new one (`line`, the
    data a shown line), `dropped` ({count, reason}) for lines a slow view missed, and `error`
    ({message, retry}) as the last event when the log center cannot follow (retry false: the
    query itself is wrong)."""
    selected, instances = await _visible(request, viewer, team, service, env)
    filters = Filters(team=team, service=service, env=str(selected))
    # The origins of the instances running now; one that starts during the tail shows none.
    known = await origins_of(request, viewer, team=team, service=service, instances=instances)
    events = live_events(
        portal_deps(request).logs, filters, q, tail=tail,
        service_url=_service_url(request, team, service), origins=known,
    )  # fmt: skip
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


class Follows(Protocol):
    """What the live view needs of the log center (LogCenter.follow)."""

    def follow(self, filters: Filters, text: str, *, tail: int) -> AsyncIterator[Hit | Dropped]:
        """The last `tail` lines, then new ones; Invalid or Unavailable when it cannot."""


async def live_events(
    center: Follows | None,
    filters: Filters,
    text: str,
    *,
    tail: int,
    service_url: str,
    origins: Mapping[str, Origin] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The live view's event stream (logs/live.py), ending with an `error` event whatever
    stops it; lines of `origins`' instances carry their origin."""
    known = origins or {}
    if center is None:
        yield b": open\n\n"
        yield event("error", {"message": "the log center is not configured", "retry": True})
        return
    follower = center.follow(filters, text, tail=tail)
    async for chunk in server_sent(
        follower,
        lambda hit: with_origin(shown(hit, service_url=service_url), known).as_event(),
        keep_alive_s=KEEP_ALIVE_S,
    ):
        yield chunk


@router.get(LOGS + "/download")
async def download_logs(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    env: str | None = None,
    q: FormText = "",
    instance: FormText = "",
    stream: FormText = "",
    level: FormText = "",
    since: FormText = "",
    until: FormText = "",
    format: Literal["ndjson", "text"] = "ndjson",
) -> Response:
    """Every line the search form matches in its time range, oldest first, as NDJSON or text
    (from the archive too, for days the index no longer holds, when `since` is set)."""
    selected, _ = await _visible(request, viewer, team, service, env)
    form = LogForm(q=q, instance=instance, stream=stream, level=level, since=since, until=until)
    filters = form.filters(team=team, service=service, env=selected)
    chunks = _center(request).download(filters, q, fmt=format)
    first = await asyncio.to_thread(
        next, chunks, b""
    )  # a bad query is an error page, not a cut file
    name = f"{team}-{service}-{selected}.{'ndjson' if format == 'ndjson' else 'log'}"
    return StreamingResponse(
        _body(first, chunks),
        media_type="application/x-ndjson" if format == "ndjson" else "text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _body(first: bytes, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk
