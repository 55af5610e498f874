"""Tokens and the caller's own identity. Secrets are shown once, at creation."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from dockyard.api.auth import Who
from dockyard.api.bounds import NameQuery, ShortPath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.schemas import Items, TokenCreate, TokenCreated, TokenPublic, WhoAmI
from dockyard.store import tokens

router = APIRouter(tags=["tokens"])


@router.get("/whoami")
async def whoami(*, who: Who) -> WhoAmI:
    return WhoAmI(name=who.name, team=who.team, admin=who.is_admin)


@router.get("/tokens")
def list_tokens(*, who: Who, deps: Deps, team: NameQuery = None) -> Items[TokenPublic]:
    """Admin: every token, or one team's. A team token: its own team's (another team -> 404)."""
    if team is not None:
        # The store quietly narrows a team token to its own team; naming another team is an
        # attempt to see what is not yours, which answers 404 like everything else here.
        who.require_team(team)
    with deps.db.session() as session:
        views = tokens.list_tokens(session, who, team=team)
    return Items[TokenPublic](items=[TokenPublic.of(view) for view in views])


@router.post("/teams/{team}/tokens", status_code=201)
def create_token(*, team: TeamPath, body: TokenCreate, who: Who, deps: Deps) -> TokenCreated:
    """Admin only. The answer carries the secret as `token`; it is never shown again."""
    now = deps.clock()
    expires_at = None if body.expires_in_days is None else now + timedelta(body.expires_in_days)
    with deps.db.session() as session:
        view, secret = tokens.create_token(
            session, who, team=team, name=body.name, expires_at=expires_at, now=now
        )
    return TokenCreated.of_new(view, secret)


@router.delete("/tokens/{token_id}")
def revoke_token(*, token_id: ShortPath, who: Who, deps: Deps) -> TokenPublic:
    """Admin only. Revoking twice is harmless: the first `revoked_at` stays."""
    with deps.db.session() as session:
        return TokenPublic.of(
            tokens.revoke_token(session, who, token_id=token_id, now=deps.clock())
        )
