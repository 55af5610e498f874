"""Log drains of a team: listed, added, shown and removed by its members or the admin.

The API only records them; the drainer (`dockyard drainer`) delivers and writes each one's
state, which `GET` shows. Header values are taken, never shown back.
"""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.api.auth import Who
from dockyard.api.bounds import TeamPath
from dockyard.api.deps import Deps
from dockyard.api.drain_schemas import DrainCreate, DrainPublic
from dockyard.api.schemas import Items
from dockyard.store import drains

router = APIRouter(tags=["drains"])


@router.get("/teams/{team}/drains")
def list_drains(*, team: TeamPath, who: Who, deps: Deps) -> Items[DrainPublic]:
    with deps.db.session() as session:
        found = drains.list_drains(session, who, team)
    now = deps.clock()
    return Items[DrainPublic](items=[DrainPublic.of(d, now=now) for d in found])


@router.post("/teams/{team}/drains", status_code=201)
def add_drain(*, team: TeamPath, body: DrainCreate, who: Who, deps: Deps) -> DrainPublic:
    """409 if the team has a drain of that name. Lines written from now on are delivered."""
    who.require_team(team)  # before the spec is judged: another team's names are not told apart
    spec = body.to_spec(team)
    with deps.db.session() as session:
        drain = drains.add_drain(session, who, spec, now=deps.clock())
    return DrainPublic.of(drain, now=deps.clock())


@router.get("/teams/{team}/drains/{name}")
def get_drain(*, team: TeamPath, name: TeamPath, who: Who, deps: Deps) -> DrainPublic:
    with deps.db.session() as session:
        drain = drains.get_drain(session, who, team, name)
    return DrainPublic.of(drain, now=deps.clock())


@router.delete("/teams/{team}/drains/{name}")
def remove_drain(*, team: TeamPath, name: TeamPath, who: Who, deps: Deps) -> DrainPublic:
    """The drain as it was; its stream consumer goes when the drainer next reads the list."""
    with deps.db.session() as session:
        drain = drains.remove_drain(session, who, team, name)
    return DrainPublic.of(drain, now=deps.clock())
