"""What a push to a hosted remote does beyond storing commits: build the configured branch.

Before receive-pack runs, `prepare` notes which branch builds (the source's branch when the
service builds from its hosted repository; `main` when it has no source yet) and where that
branch points. After it ended, `settle` looks again: if the branch moved, a build of the new
commit is requested that deploys to `test` once built, through the same path as
`POST .../builds` (`routes.builds.queue_build`). The first push of `main` to a service without
a source makes the hosted repository its source. Pushes to other branches or tags build nothing.
`settle` returns lines for the pusher; git shows them as `remote: ...`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dockyard.api.deps import ApiDeps
from dockyard.api.imaging import ImageCenter
from dockyard.api.routes.builds import queue_build
from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError
from dockyard.domain.principal import Principal
from dockyard.domain.source import GitSource
from dockyard.images.hosted import HostedRepos, RepoOwner
from dockyard.store import images
from dockyard.store.services import service_row

log = logging.getLogger(__name__)

DEFAULT_BRANCH = GitSource.branch
DEPLOY_TO = Environment.TEST


@dataclass(frozen=True)
class PushPlan:
    team: str
    service: str
    branch: str
    """The branch whose pushes build."""
    builds: bool
    """False when the service builds from another repository: pushes are only stored."""
    adopt: bool
    """True when the service has no source yet: the push makes the hosted repository it."""
    before: str | None
    """Where `branch` pointed before the push."""


def prepare(
    deps: ApiDeps, repos: HostedRepos, who: Principal, *, team: str, service: str, push: bool
) -> PushPlan:
    """Check `who` may use the service's remote (NotFound otherwise), create the repository
    if it does not exist, and note what a push should be compared with."""
    with deps.db.session() as session:
        owner = RepoOwner.of(service_row(session, who, team, service))
        view = images.get_source(session, who, team=team, service=service)
    source = None if view is None else view.source
    branch = DEFAULT_BRANCH if source is None else source.branch
    repos.ensure(team, service, owner=owner, branch=branch)
    return PushPlan(
        team=team,
        service=service,
        branch=branch,
        builds=source is None or source.repo_url == repos.url(team, service),
        adopt=source is None,
        before=repos.head(team, service, branch) if push else None,
    )


def settle(
    deps: ApiDeps, center: ImageCenter, repos: HostedRepos, who: Principal, plan: PushPlan
) -> list[str]:
    """After receive-pack ended: adopt the repository and request a build if the branch
    moved. Never raises: the commits are stored whatever happens here, and the lines say so."""
    after = repos.head(plan.team, plan.service, plan.branch)
    svc = plan.service
    try:
        said: list[str] = []
        builds = plan.builds
        if plan.adopt and after is not None:
            said, builds = _adopt(deps, repos, who, plan)
        if not builds:
            return [
                f"dockyard: stored; {svc} builds from another repository, so nothing is built "
                f"(`dockyard source set {svc} --hosted` builds from this one)"
            ]
        if after is None or after == plan.before:
            return [*said, f"dockyard: stored; only pushes to {plan.branch} build and deploy"]
        build = queue_build(
            deps, center, who, team=plan.team, service=svc, ref=after, force=False,
            deploy_to=DEPLOY_TO,
        )  # fmt: skip
    except DockyardError as exc:
        log.warning("push team=%s service=%s: no build: %s", plan.team, svc, exc.message)
        return [
            f"dockyard: stored, but no build could be asked for: {exc.message}",
            f"dockyard: `dockyard build {svc} --ref {after} --deploy test` asks again",
        ]
    log.info("push team=%s service=%s build=%s commit=%s", plan.team, svc, build.number, after)
    return [
        *said,
        f"dockyard: build {build.number} of {svc} queued for {plan.branch} at {after[:12]}; "
        f"it deploys to {DEPLOY_TO.value} once built",
        f"dockyard: follow it with `dockyard build-log {svc} {build.number} --follow`",
    ]


def _adopt(
    deps: ApiDeps, repos: HostedRepos, who: Principal, plan: PushPlan
) -> tuple[list[str], bool]:
    """Make the hosted repository the service's source, unless one was set meanwhile; the
    lines for the pusher, and whether the service (still) builds from this repository."""
    url = repos.url(plan.team, plan.service)
    with deps.db.session() as session:
        found = images.get_source(session, who, team=plan.team, service=plan.service)
        if found is not None:
            return [], found.source.repo_url == url
        images.set_source(
            session, who, team=plan.team, service=plan.service,
            source=GitSource(repo_url=url, branch=plan.branch), now=deps.clock(),
        )  # fmt: skip
    return [f"dockyard: {plan.service} now builds from this repository ({plan.branch})"], True
