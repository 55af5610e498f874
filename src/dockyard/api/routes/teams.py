"""Teams: listed by anyone (a team token sees its own), created and deleted by the admin."""

from __future__ import annotations

from fastapi import APIRouter, Response

from dockyard.api.auth import Who
from dockyard.api.bounds import TeamPath
from dockyard.api.deps import Deps
from dockyard.api.schemas import Items, TeamCreate, TeamPublic
from dockyard.store import teams

router = APIRouter(tags=["teams"])


@router.get("/teams")
def list_teams(*, who: Who, deps: Deps) -> Items[TeamPublic]:
    with deps.db.session() as session:
        views = teams.list_teams(session, who)
    return Items[TeamPublic](items=[TeamPublic.of(view) for view in views])


@router.post("/teams", status_code=201)
def create_team(*, body: TeamCreate, who: Who, deps: Deps) -> TeamPublic:
    """Admin only. 409 if the name is taken."""
    with deps.db.session() as session:
        view = teams.create_team(
            session, who, name=body.name, description=body.description, now=deps.clock()
        )
    return TeamPublic.of(view)


@router.get("/teams/{team}")
def get_team(*, team: TeamPath, who: Who, deps: Deps) -> TeamPublic:
    with deps.db.session() as session:
        return TeamPublic.of(teams.get_team(session, who, team))


@router.delete("/teams/{team}", status_code=204, response_class=Response)
def delete_team(*, team: TeamPath, who: Who, deps: Deps) -> None:
    """Admin only. 409 while the team still has services."""
    with deps.db.session() as session:
        teams.delete_team(session, who, team)
