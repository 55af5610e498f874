"""Endpoints: the ready instances of a service environment, read once, long-polled or watched.

A team reads its own services' endpoints and those other teams publish to it (the service's
`publish` setting); anything else answers 404, like a service that does not exist. Watches
are served by any server process: they learn of the controller's writes from the database
(discovery/watch.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from dockyard.api.auth import Who
from dockyard.api.bounds import LINE, ServicePath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.endpoint_schemas import EndpointsPublic, SnapshotPublic, endpoints_json
from dockyard.discovery.events import server_sent
from dockyard.discovery.snapshot import snapshot_json
from dockyard.discovery.snapshot_watch import SnapshotWatch
from dockyard.discovery.watch import EndpointWatch, Question
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Malformed
from dockyard.domain.sse import event
from dockyard.domain.sse import server_sent as framed

router = APIRouter(tags=["endpoints"])

BASE = "/endpoints/{team}/{svc}"
MAX_WAIT_S = 300.0

SinceQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=LINE, description="The version you hold."),
]


def endpoint_watch(request: Request, deps: Deps) -> EndpointWatch:
    """The app's one EndpointWatch (one poller per process), made on first use."""
    state = request.app.state
    if getattr(state, "endpoint_watch", None) is None:
        state.endpoint_watch = EndpointWatch(deps.db)
    found: EndpointWatch = state.endpoint_watch
    return found


def snapshot_watch(request: Request, deps: Deps) -> SnapshotWatch:
    """The app's one SnapshotWatch (one poller per process), made on first use."""
    state = request.app.state
    if getattr(state, "snapshot_watch", None) is None:
        state.snapshot_watch = SnapshotWatch(deps.db)
    found: SnapshotWatch = state.snapshot_watch
    return found


@router.get(
    "/endpoints",
    response_model=SnapshotPublic,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def get_all_endpoints(
    *,
    request: Request,
    who: Who,
    deps: Deps,
    watch: Annotated[bool, Query(description="Server-sent events, one per change.")] = False,
    since: SinceQuery = None,
) -> SnapshotPublic | StreamingResponse:
    """Every live service environment's ready endpoints (team, service, env, publish, version,
    endpoints as in the one-service answer) and the address of every instance of each (`callers`:
    a DNS answer tells the caller's environment by it), with the version of the whole. For the
    platform's own routing programs: the admin token only. With `watch=1`, server-sent events:
    `event: snapshot` (data: this answer) per change, first the current one unless `since` is
    its version."""
    who.require_admin()
    watcher = snapshot_watch(request, deps)
    if not watch:
        return SnapshotPublic.model_validate(snapshot_json(await asyncio.to_thread(watcher.read)))
    return _event_stream(
        framed(
            watcher.follow(since=since),
            lambda found: event("snapshot", snapshot_json(found)),
            permanent=(),
            ended="the feed ended",
        )
    )


@router.get(
    BASE,
    response_model=EndpointsPublic,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def get_endpoints(
    *,
    request: Request,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: Annotated[Environment, Query(description="The environment.")],
    fallback: Annotated[
        bool, Query(description="From test: stable's instances when test has none ready.")
    ] = False,
    watch: Annotated[bool, Query(description="Server-sent events, one per change.")] = False,
    wait: Annotated[
        float | None,
        Query(ge=0, le=MAX_WAIT_S, description="Long poll: answer once `since` is stale."),
    ] = None,
    since: SinceQuery = None,
) -> EndpointsPublic | StreamingResponse:
    """The ready instances of the service in `env` (address, ports, revision, since when
    ready) and the version of this answer. With `wait`, answers once the version differs from
    `since`, or after `wait` seconds. With `watch=1`, server-sent events: `event: endpoints`
    (data: this answer) per change, first the current one unless `since` is its version;
    `event: error` ({message, retry}) ends the stream."""
    if watch and wait is not None:
        raise Malformed("use either watch (events) or wait (long poll), not both", field="wait")
    question = Question(team=team, service=svc, env=env, fallback=fallback, caller=who.team)
    watcher = endpoint_watch(request, deps)
    # A 404 is an answer, not an event later; the read runs in a thread, off the event loop.
    current = await asyncio.to_thread(watcher.read, question)
    if watch:
        return _event_stream(
            server_sent(
                watcher.follow(question, since=since),
                lambda found: endpoints_json(found, team=team, service=svc),
            )
        )
    if wait is not None and current.version == since:
        current = await watcher.wait(question, since=since, timeout_s=wait)
    return EndpointsPublic.of(current, team=team, service=svc)


def _event_stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    """A server-sent event stream that neither a cache nor a buffering proxy holds back."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
