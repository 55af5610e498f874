"""API tokens: random secrets shown once, stored as SHA-256 hashes, revocable, may expire.

A token is `dy_<id>_<secret>`; the id lets humans name it in lists without revealing it. The
secret has 256 bits of entropy, so a plain SHA-256 (not a slow password hash) is the right store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from dockyard.domain.errors import Invalid, NotFound, Unauthorized
from dockyard.domain.principal import Principal
from dockyard.store.db import Reader
from dockyard.store.models import TeamRow, TokenRow
from dockyard.store.teams import team_row
from dockyard.store.views import TokenView

ADMIN_TOKEN_NAME = "admin"  # noqa: S105 - a display name, not a secret


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(row: TokenRow, team: str | None) -> TokenView:
    return TokenView(
        id=row.id,
        name=row.name,
        team=team,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _issue(
    session: Session, *, team_id: int | None, name: str, expires_at: datetime | None, now: datetime
) -> tuple[TokenRow, str]:
    token_id = secrets.token_hex(6)
    secret = f"dy_{token_id}_{secrets.token_urlsafe(32)}"
    row = TokenRow(
        id=token_id,
        team_id=team_id,
        name=name,
        secret_hash=_hash(secret),
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return row, secret


def ensure_admin_token(session: Session, *, now: datetime) -> str | None:
    """At first start, create the admin token and return its secret (once); afterwards None."""
    exists = session.scalar(select(TokenRow.id).where(TokenRow.team_id.is_(None)).limit(1))
    if exists is not None:
        return None
    _, secret = _issue(session, team_id=None, name=ADMIN_TOKEN_NAME, expires_at=None, now=now)
    return secret


def create_token(
    session: Session,
    who: Principal,
    *,
    team: str,
    name: str,
    expires_at: datetime | None,
    now: datetime,
) -> tuple[TokenView, str]:
    """A team token; returns the view and the secret, which is never shown again."""
    who.require_admin()
    if not name or len(name) > 60:
        raise Invalid("token name must be 1-60 characters", field="name")
    if expires_at is not None and expires_at <= now:
        raise Invalid("expires_at must be in the future", field="expires_at")
    row, secret = _issue(
        session, team_id=team_row(session, team).id, name=name, expires_at=expires_at, now=now
    )
    return _view(row, team), secret


def list_tokens(session: Session, who: Principal, *, team: str | None) -> list[TokenView]:
    """Admin: every token (or one team's). A team: its own tokens."""
    if not who.is_admin:
        team = who.team
    query = select(TokenRow, TeamRow.name).outerjoin(TeamRow, TokenRow.team_id == TeamRow.id)
    if team is not None:
        query = query.where(TeamRow.name == team)
    return [_view(row, name) for row, name in session.execute(query.order_by(TokenRow.created_at))]


def revoke_token(session: Session, who: Principal, *, token_id: str, now: datetime) -> TokenView:
    who.require_admin()
    found = session.execute(
        select(TokenRow, TeamRow.name)
        .outerjoin(TeamRow, TokenRow.team_id == TeamRow.id)
        .where(TokenRow.id == token_id)
    ).first()
    if found is None:
        raise NotFound(f"token {token_id!r} not found; `dockyard tokens` lists them")
    row, team = found
    if row.team_id is None:
        raise Invalid("the admin token cannot be revoked through the API", field="token_id")
    if row.revoked_at is None:
        row.revoked_at = now
    return _view(row, team)


# Built once: every request authenticates, and building a select costs more than running it.
_BY_HASH = (
    select(
        TokenRow.id,
        TokenRow.name,
        TokenRow.secret_hash,
        TokenRow.revoked_at,
        TokenRow.expires_at,
        TeamRow.name.label("team"),
    )
    .outerjoin(TeamRow, TokenRow.team_id == TeamRow.id)
    .where(TokenRow.secret_hash == bindparam("secret_hash"))
)


def authenticate(reader: Reader, secret: str, *, now: datetime) -> Principal:
    """The principal a presented token stands for, or Unauthorized saying why not."""
    digest = _hash(secret)
    found = reader.execute(_BY_HASH, {"secret_hash": digest}).first()
    if found is None or not hmac.compare_digest(found.secret_hash, digest):
        raise Unauthorized("the token is not valid; log in again with `dockyard login`")
    if found.revoked_at is not None:
        raise Unauthorized("the token was revoked; ask the platform admin for a new one")
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthorized("the token has expired; ask the platform admin for a new one")
    return Principal(token_id=found.id, name=found.name, team=found.team)
