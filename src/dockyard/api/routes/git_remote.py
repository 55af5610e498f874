"""A service's hosted git remote, as the API describes it: its URL, and making it the source.

The remote itself (clone, fetch, push) is served by `routes.git_http`; these routes tell a
client where it is and point the service's builds at it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from dockyard.api.auth import Who
from dockyard.api.bounds import Line, ServicePath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.image_schemas import SourcePublic
from dockyard.api.imaging import Center
from dockyard.domain.source import GitSource
from dockyard.images.hosted import HostedRepos, RepoOwner, remote_url
from dockyard.store import images
from dockyard.store.services import service_row

router = APIRouter(tags=["builds"])

SERVICE = "/teams/{team}/services/{svc}"


class HostedSourceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    branch: Line = GitSource.branch
    dockerfile: Line = GitSource.dockerfile
    context: Line = GitSource.context


class GitRemotePublic(BaseModel):
    url: str
    """`git remote add dockyard URL`; git sends the token as the password."""
    branch: str
    """Pushes to this branch build and deploy to test (when `builds_on_push`)."""
    builds_on_push: bool
    """False when the service builds from another repository: pushes are only stored."""
    source: SourcePublic | None


@router.get(SERVICE + "/git")
def get_remote(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, center: Center, request: Request
) -> GitRemotePublic:
    """The service's hosted git remote and whether pushes to it build."""
    repos = HostedRepos(center.sources.hosted_dir)
    with deps.db.session() as session:
        service_row(session, who, team, svc)
        view = images.get_source(session, who, team=team, service=svc)
    return GitRemotePublic(
        url=remote_url(deps.public_url or str(request.base_url), team, svc),
        branch=view.source.branch if view else GitSource.branch,
        builds_on_push=view is None or view.source.repo_url == repos.url(team, svc),
        source=SourcePublic.of(view) if view else None,
    )


@router.put(SERVICE + "/source/hosted")
async def set_hosted_source(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    center: Center,
    body: HostedSourceBody,
) -> SourcePublic:
    """Build the service from its hosted repository (created if it does not exist yet)."""
    repos = HostedRepos(center.sources.hosted_dir)
    source = GitSource(
        repo_url=repos.url(team, svc),
        branch=body.branch,
        dockerfile=body.dockerfile,
        context=body.context,
    )

    def store() -> SourcePublic:
        with deps.db.session() as session:
            view = images.set_source(
                session, who, team=team, service=svc, source=source, now=deps.clock()
            )
            owner = RepoOwner.of(service_row(session, who, team, svc))
            # Before the commit: both or neither.
            repos.ensure(team, svc, owner=owner, branch=source.branch)
        return SourcePublic.of(view)

    return await asyncio.to_thread(store)
