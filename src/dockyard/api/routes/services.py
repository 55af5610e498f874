"""A team's services: list (paged), create, read (with environments), patch, delete.

The two reads are the API's busiest routes. They run on the event loop, not in a worker
thread: each is two or three indexed queries on prebuilt statements (~0.2 ms in all), and
with 50 clients on two cores the hop to a thread (GIL contention between the loop and the
threads) made the p95 four to six times longer. What they answer is joined from renderings
kept per service version and per release (api.rendering).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response

from dockyard.api.auth import Who
from dockyard.api.bounds import NameQuery, ServicePath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.rendering import (
    Kept,
    Renderings,
    detail_json,
    environment_json,
    json_response,
    page_json,
)
from dockyard.api.schemas import (
    ServiceCreate,
    ServiceDetail,
    ServicePage,
    ServicePublic,
    ServiceUpdate,
)
from dockyard.domain.environment import ALL_ENVIRONMENTS
from dockyard.domain.status import EnvKey
from dockyard.store import services, summaries
from dockyard.store.services import MAX_PAGE
from dockyard.store.status import key_for
from dockyard.store.views import ServiceStamp

router = APIRouter(tags=["services"])

BASE = "/teams/{team}/services"


@router.get(BASE, response_model=ServicePage)
async def list_services(
    *,
    team: TeamPath,
    who: Who,
    deps: Deps,
    kept: Kept,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    after: NameQuery = None,
) -> Response:
    """Live services by name. `next` is the name to pass as `after` for the following page."""
    # Ask for one more than wanted (when the store allows): it tells whether a next page exists.
    probe = limit + 1 if limit < MAX_PAGE else limit
    with deps.db.reading() as connection:
        stamps = services.service_stamps(connection, who, team=team, limit=probe, after=after)
    page = stamps[:limit]
    more = len(stamps) > limit or (probe == limit and len(stamps) == limit)
    items = _rendered_services(deps, kept, team=team, stamps=page)
    return json_response(page_json(items, page[-1].name if more and page else None))


def _rendered_services(
    deps: ApiDeps, kept: Renderings, *, team: str, stamps: Sequence[ServiceStamp]
) -> list[bytes]:
    """The JSON of each service, in order: kept, or read and rendered (then kept). A service
    purged between the two reads is left out."""
    rendered = {stamp.id: kept.kept_service(stamp) for stamp in stamps}
    missing = [service_id for service_id, json in rendered.items() if json is None]
    if missing:
        with deps.db.session() as session:
            found = services.services_by_id(session, team=team, ids=missing)
        for stamp, view in found:
            rendered[stamp.id] = kept.service(stamp, view)
    return [json for json in rendered.values() if json is not None]


@router.post(BASE, status_code=201)
def create_service(*, team: TeamPath, body: ServiceCreate, who: Who, deps: Deps) -> ServicePublic:
    """A new service with its four environments, none deployed yet."""
    spec = body.to_spec()
    with deps.db.session() as session:
        view = services.create_service(
            session, who, team=team, name=body.name, spec=spec, now=deps.clock()
        )
    return ServicePublic.of(view)


@router.get(BASE + "/{svc}", response_model=ServiceDetail)
async def get_service(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, kept: Kept
) -> Response:
    """The service and, for each environment, its current release, status and instances."""
    with deps.db.reading() as connection:
        state = summaries.service_state(connection, who, team=team, service=svc)
        service = kept.kept_service(state.stamp)
        current = {
            env.env: kept.kept_release(state.stamp, env.env, env.current.number)
            for env in state.envs
            if env.current is not None
        }
        if service is None or None in current.values():
            # Anything not kept: read the templates again, the service's and its releases'.
            stamp, view, releases = summaries.service_and_releases(
                connection, who, team=team, service=svc
            )
            service = kept.service(stamp, view)
            current = {env: kept.release(stamp, release) for env, release in releases.items()}
    environments = [environment_json(env, current.get(env.env)) for env in state.envs]
    return json_response(detail_json(service, environments))


@router.patch(BASE + "/{svc}")
def update_service(
    *, team: TeamPath, svc: ServicePath, body: ServiceUpdate, who: Who, deps: Deps
) -> ServicePublic:
    """Changes the template only: what runs changes at the next deploy."""
    with deps.db.session() as session:
        current = services.get_service(session, who, team=team, name=svc)
        view = services.update_service(
            session, who, team=team, name=svc, spec=body.apply_to(current.spec), now=deps.clock()
        )
    return ServicePublic.of(view)


@router.delete(BASE + "/{svc}", status_code=202)
def delete_service(*, team: TeamPath, svc: ServicePath, who: Who, deps: Deps) -> ServicePublic:
    """Marks the service deleting; controllers stop every instance, then remove it."""
    with deps.db.session() as session:
        view = services.delete_service(session, who, team=team, name=svc, now=deps.clock())
        key = key_for(session, team=team, service=svc, env=ALL_ENVIRONMENTS[0])
    if key is not None:
        deps.changed(EnvKey(key.service_id, env) for env in ALL_ENVIRONMENTS)
    return ServicePublic.of(view)
