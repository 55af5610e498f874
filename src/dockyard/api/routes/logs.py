"""A service's logs: search, the lines around one line, a live tail, and downloads.

A team reads only its own teams' logs (others' answer 404, like their services); the admin
reads all. Logs outlive their service: a deleted service's lines stay until retention, so
these routes ask only that the team be visible, not that the service still exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from dockyard.api.auth import Who
from dockyard.api.bounds import LINE, MAX_INTEGER, SHORT_MAX, ServicePath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.schemas import ErrorBody, LogContext, LogLinePublic, LogOriginPublic, LogPage
from dockyard.domain.errors import Invalid, Malformed, NotFound, Unavailable
from dockyard.domain.principal import Principal
from dockyard.logs.build_lines import build_instance
from dockyard.logs.center import LogCenter
from dockyard.logs.index.base import MAX_CONTEXT, MAX_LIMIT, Filters, Hit, Order
from dockyard.logs.live import server_sent
from dockyard.logs.query import LEVELS, MAX_QUERY_CHARS, normal_level, parse
from dockyard.logs.record import BUILD_ENV, CONSOLE, LogEnv
from dockyard.store import build_logs
from dockyard.store.origins import Origin, origins

router = APIRouter(
    tags=["logs"],
    responses={
        400: {
            "model": ErrorBody,
            "description": "A malformed query: its syntax, a time or time range, a level, a cursor",
        }
    },
)

BASE = "/teams/{team}/services/{svc}/logs"

EnvQuery = Annotated[
    LogEnv, Query(description="The environment, or `build` for the service's build logs.")
]
BuildQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_INTEGER,
        description="With env=build: only the log of the service's build of this number.",
    ),
]
TextQuery = Annotated[
    str,
    Query(
        max_length=MAX_QUERY_CHARS,
        pattern=LINE,
        description='Words (all must match), "phrases", -exclusions, level:error, stream:stderr.',
    ),
]
InstancesQuery = Annotated[
    list[Annotated[str, Query(max_length=SHORT_MAX, pattern=LINE)]] | None,
    Query(max_length=64, description="Only these instances."),
]
StreamQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1024,
        pattern=LINE,
        description="stdout, stderr, or a declared log file's path.",
    ),
]
LevelQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=16, pattern=LINE, description="One of " + ", ".join(LEVELS)),
]
_MOMENT = {"min_length": 10, "max_length": 40, "pattern": LINE}
SinceQuery = Annotated[
    str | None, Query(**_MOMENT, description="From this time (RFC 3339), inclusive.")
]
UntilQuery = Annotated[
    str | None, Query(**_MOMENT, description="Up to this time (RFC 3339), exclusive.")
]


def _center(deps: ApiDeps) -> LogCenter:
    if deps.logs is None:
        raise Unavailable("the log center is not configured on this server")
    return deps.logs


def _filters(
    who: Principal,
    *,
    team: str,
    svc: str,
    env: LogEnv,
    instance: list[str] | None,
    stream: str | None,
    level: str | None,
    since: str | None,
    until: str | None,
) -> Filters:
    who.require_team(team)
    levels: tuple[str, ...] = ()
    if level is not None:
        found = normal_level(level)
        if not found:
            raise Malformed(
                f"unknown level {level!r}: use one of {', '.join(LEVELS)}", field="level"
            )
        levels = (found,)
    since_ns, until_ns = _ns(since, "since"), _ns(until, "until")
    if since_ns is not None and until_ns is not None and until_ns <= since_ns:
        raise Malformed("until must be later than since", field="until")
    return Filters(
        team=team,
        service=svc,
        env=str(env),
        instances=tuple(dict.fromkeys(instance or ())),
        streams=(stream,) if stream else (),
        levels=levels,
        since_ns=since_ns,
        until_ns=until_ns,
    )


async def _with_build(
    deps: ApiDeps,
    who: Principal,
    *,
    team: str,
    svc: str,
    env: LogEnv,
    build: int | None,
    instance: list[str] | None,
) -> list[str] | None:
    """The instances to search: `instance`, or with `build` that build's (a build's log is
    its own instance in the `build` environment). NotFound if the service never had it."""
    if build is None:
        return instance
    if env != BUILD_ENV:
        raise Invalid(f"build={build} names a build log: ask with env=build", field="build")
    if instance:
        raise Invalid("give build or instance, not both: a build is an instance", field="build")
    who.require_team(team)
    ids = await asyncio.to_thread(_build_ids, deps, team, svc, build)
    if not ids:
        raise NotFound(f"build {build} of {svc!r} not found; `dockyard builds {svc}` lists them")
    return [build_instance(build, build_id) for build_id in ids]


def _build_ids(deps: ApiDeps, team: str, svc: str, number: int) -> list[int]:
    with deps.db.session() as session:
        return build_logs.build_ids(session, team=team, service=svc, number=number)


def _ns(text: str | None, field: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time; Malformed naming `field` otherwise."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Malformed(
            f"{field} {text!r} is not an RFC 3339 time (e.g. 2026-12-06T10:00:00Z)", field=field
        ) from None
    if moment.tzinfo is None:
        raise Malformed(f"{field} needs a time zone (e.g. 2026-12-06T10:00:00Z)", field=field)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@router.get(BASE)
async def search_logs(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: EnvQuery,
    q: TextQuery = "",
    instance: InstancesQuery = None,
    build: BuildQuery = None,
    stream: StreamQuery = None,
    level: LevelQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    order: Order = Order.NEWEST,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(min_length=1, max_length=512, pattern=LINE)] = None,
) -> LogPage:
    """Matching lines of every instance of the service, merged in time order, newest first by
    default. `next` continues after the page's last line. Lines are searchable about a second
    after they are written, and stay so after their instance is gone."""
    instance = await _with_build(
        deps, who, team=team, svc=svc, env=env, build=build, instance=instance
    )
    filters = _filters(
        who, team=team, svc=svc, env=env, instance=instance, stream=stream, level=level,
        since=since, until=until,
    )  # fmt: skip
    page = await _center(deps).search(filters, q, cursor=cursor, order=order, limit=limit)
    named = {hit.instance for hit in page.hits}
    known = await asyncio.to_thread(_origins, deps, who, team=team, svc=svc, instances=named)
    return LogPage(
        items=[LogLinePublic.of(hit) for hit in page.hits],
        next=page.next_cursor,
        instances={name: LogOriginPublic.of(origin) for name, origin in known.items()},
    )


def _origins(
    deps: ApiDeps, who: Principal, *, team: str, svc: str, instances: set[str]
) -> dict[str, Origin]:
    with deps.db.session() as session:
        return origins(session, who, team=team, service=svc, instances=instances)


@router.get(BASE + "/context")
async def log_context(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: EnvQuery,
    instance: Annotated[str, Query(min_length=1, max_length=SHORT_MAX, pattern=LINE)],
    seq: Annotated[int, Query(ge=1, le=MAX_INTEGER, description="The line's number.")],
    n: Annotated[int, Query(ge=0, le=MAX_CONTEXT, description="Lines on each side.")] = 20,
    channel: Annotated[
        str, Query(min_length=1, max_length=1024, pattern=LINE, description="console or a path.")
    ] = CONSOLE,
) -> LogContext:
    """Line `seq` of one instance's console (or declared file) with `n` lines before and after."""
    who.require_team(team)
    hits = await _center(deps).context(instance=instance, channel=channel, seq=seq, n=n)
    own = [hit for hit in hits if (hit.team, hit.service, hit.env) == (team, svc, str(env))]
    return LogContext(at=seq, items=[LogLinePublic.of(hit) for hit in own])


@router.get(
    BASE + "/follow",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def follow_logs(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: EnvQuery,
    q: TextQuery = "",
    instance: InstancesQuery = None,
    build: BuildQuery = None,
    stream: StreamQuery = None,
    level: LevelQuery = None,
    tail: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Last lines to start with.")] = 100,
) -> StreamingResponse:
    """Server-sent events: the last `tail` lines, then every new line of the service as it is
    written (`event: line`, data a line as in searches), through rollouts: new instances join,
    stopped ones leave. `event: dropped` ({count, reason}) stands for lines a slow client
    missed; `event: error` ({message, retry}) ends the stream. A comment every 15 s keeps it
    alive."""
    instance = await _with_build(
        deps, who, team=team, svc=svc, env=env, build=build, instance=instance
    )
    filters = _filters(
        who, team=team, svc=svc, env=env, instance=instance, stream=stream, level=level,
        since=None, until=None,
    )  # fmt: skip
    parse(q)  # a malformed query is a 400 answer, not an event later
    center = _center(deps)
    if center.stream is None:
        raise Unavailable("live tails need the log stream: this server has none configured")
    follower = center.follow(filters, q, tail=tail)
    return StreamingResponse(
        server_sent(follower, _line_json),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _line_json(hit: Hit) -> dict[str, Any]:
    return LogLinePublic.of(hit).model_dump(mode="json")


@router.get(
    BASE + "/download",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "text/plain": {}},
            "description": "Every matching line, oldest first",
        }
    },
)
async def download_logs(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: EnvQuery,
    since: Annotated[str, Query(**_MOMENT, description="From this time (RFC 3339), inclusive.")],
    until: UntilQuery = None,
    q: TextQuery = "",
    instance: InstancesQuery = None,
    build: BuildQuery = None,
    stream: StreamQuery = None,
    level: LevelQuery = None,
    format: Literal["ndjson", "text"] = "ndjson",
) -> StreamingResponse:
    """Every matching line of [since, until), oldest first, as NDJSON (one record a line) or
    plain text (`TIME INSTANCE STREAM TEXT`): from the archive for days the index no longer
    holds, then from the index."""
    instance = await _with_build(
        deps, who, team=team, svc=svc, env=env, build=build, instance=instance
    )
    filters = _filters(
        who, team=team, svc=svc, env=env, instance=instance, stream=stream, level=level,
        since=since, until=until,
    )  # fmt: skip
    chunks = _center(deps).download(filters, q, fmt=format)
    first = await asyncio.to_thread(next, chunks, b"")  # a bad query is a 400, not a cut body
    name = f"{team}-{svc}-{env}.{'ndjson' if format == 'ndjson' else 'log'}"
    return StreamingResponse(
        _body(first, chunks),
        media_type="application/x-ndjson" if format == "ndjson" else "text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _body(first: bytes, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return
        yield chunk
