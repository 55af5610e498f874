"""A service's source and its builds: set the source, ask for a build, follow its log.

A build request is recorded and answered at once (202); the builder runs it in the background.
The log is read from an offset; with `wait`, the call holds until there is more text or the
build ends (long polling), so a client follows a build with one request in flight.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.bounds import MAX_INTEGER, NumberPath, ServicePath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.image_schemas import (
    BuildPublic,
    BuildRequest,
    LogPublic,
    SourceBody,
    SourcePublic,
)
from dockyard.api.imaging import Center, ImageCenter
from dockyard.api.schemas import Items
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.principal import Principal
from dockyard.images.hosted import HostedRepos, RepoOwner
from dockyard.images.sources import check_source
from dockyard.store import builds, images
from dockyard.store.builds import MAX_BUILDS, BuildView, LogPage
from dockyard.store.services import service_row

router = APIRouter(tags=["builds"])

SERVICE = "/teams/{team}/services/{svc}"
MAX_WAIT_S = 30.0
POLL_S = 0.05  # one indexed read of a build's log pieces: cheap enough to look this often
OTHERS_POLL_S = 0.25  # with the builder's events: how often builds of other servers are read


@router.put(SERVICE + "/source")
def set_source(
    *, team: TeamPath, svc: ServicePath, body: SourceBody, who: Who, deps: Deps, center: Center
) -> SourcePublic:
    """Where the service's images are built from; the next build uses it. A team's file://
    source must lie under a source root or be its hosted repository (422 otherwise)."""
    source = body.to_source()
    check_source(center.sources, source.repo_url, team=team, trusted=who.is_admin)
    repos = HostedRepos(center.sources.hosted_dir)
    with deps.db.session() as session:
        view = images.set_source(
            session, who, team=team, service=svc, source=source, now=deps.clock()
        )
        if source.repo_url == repos.url(team, svc):
            # Its own hosted repository named by URL: made or claimed now, so a build never
            # reads what a deleted service of the same name left there.
            owner = RepoOwner.of(service_row(session, who, team, svc))
            repos.ensure(team, svc, owner=owner, branch=source.branch)
    return SourcePublic.of(view)


@router.get(SERVICE + "/source")
def get_source(*, team: TeamPath, svc: ServicePath, who: Who, deps: Deps) -> SourcePublic:
    with deps.db.session() as session:
        view = images.get_source(session, who, team=team, service=svc)
    if view is None:
        raise NotFound(
            f"service {svc!r} has no source yet: `dockyard source set {svc} --repo URL` sets it"
        )
    return SourcePublic.of(view)


@router.post(SERVICE + "/builds", status_code=202)
def request_build(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    center: Center,
    body: BuildRequest | None = None,
) -> BuildPublic:
    """Queue a build; the builder starts it at once if it has a free slot."""
    body = body or BuildRequest()
    view = queue_build(
        deps, center, who, team=team, service=svc, ref=body.ref, force=body.force,
        deploy_to=body.deploy_to,
    )  # fmt: skip
    return BuildPublic.of(view)


def queue_build(
    deps: ApiDeps,
    center: ImageCenter,
    who: Principal,
    *,
    team: str,
    service: str,
    ref: str | None,
    force: bool,
    deploy_to: Environment | None,
) -> BuildView:
    """Record a build request and wake the builder (the one way builds are asked for)."""
    for attempt in (1, 2):  # two requests at once may race for the same build number
        try:
            with deps.db.session() as session:
                view = builds.request_build(
                    session, who, team=team, service=service, ref=ref, force=force,
                    deploy_to=deploy_to, now=deps.clock(),
                )  # fmt: skip
            break
        except Conflict:
            if attempt == 2:
                raise
    center.wake_builder()
    return view


@router.get(SERVICE + "/builds")
def list_builds(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=MAX_BUILDS)] = 20,
) -> Items[BuildPublic]:
    """Newest first."""
    with deps.db.session() as session:
        views = builds.list_builds(session, who, team=team, service=svc, limit=limit)
    return Items[BuildPublic](items=[BuildPublic.of(view) for view in views])


@router.get(SERVICE + "/builds/{number}")
def get_build(
    *, team: TeamPath, svc: ServicePath, number: NumberPath, who: Who, deps: Deps
) -> BuildPublic:
    with deps.db.session() as session:
        view = builds.get_build(session, who, team=team, service=svc, number=number)
    return BuildPublic.of(view)


@router.get(SERVICE + "/builds/{number}/log")
async def read_log(
    *,
    team: TeamPath,
    svc: ServicePath,
    number: NumberPath,
    who: Who,
    deps: Deps,
    center: Center,
    after: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
) -> LogPublic:
    """The log from offset `after`. With `wait` seconds, answers as soon as there is new text
    or the build ended, at the latest after `wait` (with empty text)."""

    def read() -> tuple[LogPage, BuildView | None]:
        with deps.db.session() as session:
            page = builds.read_log(session, who, team=team, service=svc, number=number, after=after)
            if not page.done:
                return page, None
            return page, builds.get_build(session, who, team=team, service=svc, number=number)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        page, finished = await asyncio.to_thread(read)
        left = deadline - loop.time()
        if page.text or page.done or page.state.done or left <= 0:
            return LogPublic.of(page, build=finished)
        if center.build_events is None:
            await asyncio.sleep(min(POLL_S, left))
        else:  # woken at once by this process's builder; polling still finds others' builds
            await center.build_events.wait(page.build_id, timeout_s=min(OTHERS_POLL_S, left))
