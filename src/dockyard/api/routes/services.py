"""A team's services: list (paged), create, read (with environments), patch, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.deps import Deps
from dockyard.api.schemas import (
    ServiceCreate,
    ServiceDetail,
    ServicePage,
    ServicePublic,
    ServiceUpdate,
)
from dockyard.domain.environment import ALL_ENVIRONMENTS
from dockyard.domain.status import EnvKey
from dockyard.store import environments, services
from dockyard.store.services import MAX_PAGE
from dockyard.store.status import key_for

router = APIRouter(tags=["services"])

BASE = "/teams/{team}/services"


@router.get(BASE)
def list_services(
    *,
    team: str,
    who: Who,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after: str | None = None,
) -> ServicePage:
    """Live services by name. `next` is the name to pass as `after` for the following page."""
    # Ask for one more than wanted (when the store allows): it tells whether a next page exists.
    probe = limit + 1 if limit < MAX_PAGE else limit
    with deps.db.session() as session:
        views = services.list_services(session, who, team=team, limit=probe, after=after)
    page = views[:limit]
    more = len(views) > limit or (probe == limit and len(views) == limit)
    return ServicePage(
        items=[ServicePublic.of(view) for view in page],
        next=page[-1].name if more and page else None,
    )


@router.post(BASE, status_code=201)
def create_service(*, team: str, body: ServiceCreate, who: Who, deps: Deps) -> ServicePublic:
    """A new service with its four environments, none deployed yet."""
    spec = body.to_spec()
    with deps.db.session() as session:
        view = services.create_service(
            session, who, team=team, name=body.name, spec=spec, now=deps.clock()
        )
    return ServicePublic.of(view)


@router.get(BASE + "/{svc}")
def get_service(*, team: str, svc: str, who: Who, deps: Deps) -> ServiceDetail:
    """The service and, for each environment, its current release, status and instances."""
    with deps.db.session() as session:
        view = services.get_service(session, who, team=team, name=svc)
        envs = environments.environments(session, who, team=team, service=svc)
    return ServiceDetail.of_service(view, envs)


@router.patch(BASE + "/{svc}")
def update_service(
    *, team: str, svc: str, body: ServiceUpdate, who: Who, deps: Deps
) -> ServicePublic:
    """Changes the template only: what runs changes at the next deploy."""
    with deps.db.session() as session:
        current = services.get_service(session, who, team=team, name=svc)
        view = services.update_service(
            session, who, team=team, name=svc, spec=body.apply_to(current.spec), now=deps.clock()
        )
    return ServicePublic.of(view)


@router.delete(BASE + "/{svc}", status_code=202)
def delete_service(*, team: str, svc: str, who: Who, deps: Deps) -> ServicePublic:
    """Marks the service deleting; controllers stop every instance, then remove it."""
    with deps.db.session() as session:
        view = services.delete_service(session, who, team=team, name=svc, now=deps.clock())
        key = key_for(session, team=team, service=svc, env=ALL_ENVIRONMENTS[0])
    if key is not None:
        deps.changed(EnvKey(key.service_id, env) for env in ALL_ENVIRONMENTS)
    return ServicePublic.of(view)
