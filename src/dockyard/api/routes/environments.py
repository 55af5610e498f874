"""One service's environments: read them, and change what runs there (deploy, scale, rollback).

Every change appends a numbered revision and, once committed, tells the controller.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.bounds import NumberPath, ServicePath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.imaging import Pinner
from dockyard.api.schemas import (
    DeployRequest,
    EnvironmentPublic,
    EventPublic,
    InstancePublic,
    Items,
    ReleasePublic,
    RollbackRequest,
    ScaleRequest,
)
from dockyard.domain.environment import Environment
from dockyard.store import environments, images, releases
from dockyard.store.environments import MAX_EVENTS
from dockyard.store.releases import MAX_HISTORY, Change
from dockyard.store.status import key_for

router = APIRouter(tags=["environments"])

SERVICE = "/teams/{team}/services/{svc}"
ENV = SERVICE + "/envs/{env}"
_NO_DEPLOY = DeployRequest()
_NO_ROLLBACK = RollbackRequest()


@router.get(SERVICE + "/envs")
def list_environments(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps
) -> Items[EnvironmentPublic]:
    with deps.db.session() as session:
        views = environments.environments(session, who, team=team, service=svc)
    return Items[EnvironmentPublic](items=[EnvironmentPublic.of(view) for view in views])


@router.get(ENV)
def get_environment(
    *, team: TeamPath, svc: ServicePath, env: Environment, who: Who, deps: Deps
) -> EnvironmentPublic:
    with deps.db.session() as session:
        (view,) = environments.environments(session, who, team=team, service=svc, only=env)
    return EnvironmentPublic.of(view)


@router.post(ENV + "/deploy", status_code=201)
def deploy(
    *,
    team: TeamPath,
    svc: ServicePath,
    env: Environment,
    who: Who,
    deps: Deps,
    pins: Pinner,
    body: DeployRequest = _NO_DEPLOY,
) -> ReleasePublic:
    """A new revision from the service's template. Image and replicas default to the current
    revision's (or the template's image and one replica for a first deploy). The image is
    pinned to a digest first (api.imaging); one the registry lacks is refused (422)."""
    change = Change(who=who, now=deps.clock(), expected_revision=body.expected_revision)
    image = body.image
    if pins is not None:
        if image is None:
            with deps.db.session() as session:
                image = images.image_carried_over(session, who, team=team, service=svc, env=env)
        image = pins.pin(image)
    with deps.db.session() as session:
        release = releases.deploy(
            session, change, team=team, service=svc, env=env,
            image=image, replicas=body.replicas, env_vars=body.env,
        )  # fmt: skip
        key = key_for(session, team=team, service=svc, env=env)
    deps.changed([key])
    return ReleasePublic.of(release)


@router.post(ENV + "/scale", status_code=201)
def scale(
    *, team: TeamPath, svc: ServicePath, env: Environment, body: ScaleRequest, who: Who, deps: Deps
) -> ReleasePublic:
    """A new revision equal to the current one but for the replica count."""
    change = Change(who=who, now=deps.clock(), expected_revision=body.expected_revision)
    with deps.db.session() as session:
        release = releases.scale(
            session, change, team=team, service=svc, env=env, replicas=body.replicas
        )
        key = key_for(session, team=team, service=svc, env=env)
    deps.changed([key])
    return ReleasePublic.of(release)


@router.post(ENV + "/rollback", status_code=201)
def rollback(
    *,
    team: TeamPath,
    svc: ServicePath,
    env: Environment,
    who: Who,
    deps: Deps,
    body: RollbackRequest = _NO_ROLLBACK,
) -> ReleasePublic:
    """Re-applies revision `to` (default: the one before current) as a new revision."""
    change = Change(who=who, now=deps.clock(), expected_revision=body.expected_revision)
    with deps.db.session() as session:
        release = releases.rollback(session, change, team=team, service=svc, env=env, to=body.to)
        key = key_for(session, team=team, service=svc, env=env)
    deps.changed([key])
    return ReleasePublic.of(release)


@router.get(ENV + "/revisions")
def list_revisions(
    *,
    team: TeamPath,
    svc: ServicePath,
    env: Environment,
    who: Who,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 50,
) -> Items[ReleasePublic]:
    """Newest first."""
    with deps.db.session() as session:
        views = releases.history(session, who, team=team, service=svc, env=env, limit=limit)
    return Items[ReleasePublic](items=[ReleasePublic.of(view) for view in views])


@router.get(ENV + "/revisions/{n}")
def get_revision(
    *, team: TeamPath, svc: ServicePath, env: Environment, n: NumberPath, who: Who, deps: Deps
) -> ReleasePublic:
    with deps.db.session() as session:
        view = releases.get_release(session, who, team=team, service=svc, env=env, number=n)
    return ReleasePublic.of(view)


@router.get(ENV + "/instances")
def list_instances(
    *, team: TeamPath, svc: ServicePath, env: Environment, who: Who, deps: Deps
) -> Items[InstancePublic]:
    with deps.db.session() as session:
        (view,) = environments.environments(session, who, team=team, service=svc, only=env)
    return Items[InstancePublic](
        items=[InstancePublic.model_validate(instance) for instance in view.instances]
    )


@router.get(SERVICE + "/events")
def list_events(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    env: Environment | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 50,
) -> Items[EventPublic]:
    """Newest first; `env` narrows to one environment."""
    with deps.db.session() as session:
        views = environments.events(session, who, team=team, service=svc, env=env, limit=limit)
    return Items[EventPublic](items=[EventPublic.of(view) for view in views])
