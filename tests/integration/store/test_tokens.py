"""Tokens: the admin token made once at first start; team tokens that can be revoked or expire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from dockyard.domain.errors import Forbidden, Invalid, NotFound, Unauthorized
from dockyard.domain.principal import Principal
from dockyard.store import services, teams, tokens
from dockyard.store.db import Database
from dockyard.store.views import TokenView

from .store_support import ADMIN, SPEC, START, later, member


def _issue(
    db: Database, team: str, name: str = "ci", *, expires_at: datetime | None = None
) -> tuple[TokenView, str]:
    with db.session() as session:
        return tokens.create_token(
            session, ADMIN, team=team, name=name, expires_at=expires_at, now=START
        )


def _authenticate(db: Database, secret: str, *, now: datetime = START) -> Principal:
    with db.session() as session:
        return tokens.authenticate(session, secret, now=now)


def test_the_admin_token_is_made_once_and_stands_for_the_admin(db: Database) -> None:
    with db.session() as session:
        secret = tokens.ensure_admin_token(session, now=START)
    with db.session() as session:
        again = tokens.ensure_admin_token(session, now=later(days=1))

    assert secret is not None
    assert again is None
    principal = _authenticate(db, secret)
    assert principal.is_admin
    with db.session() as session:
        assert [t.name for t in tokens.list_tokens(session, ADMIN, team=None)] == ["admin"]


def test_a_team_token_stands_for_its_team(db: Database, alpha: str) -> None:
    view, secret = _issue(db, alpha)
    assert _authenticate(db, secret) == Principal(token_id=view.id, name="ci", team=alpha)
    assert secret.startswith(f"dy_{view.id}_")


def _revoked(db: Database, team: str) -> str:
    view, secret = _issue(db, team)
    with db.session() as session:
        tokens.revoke_token(session, ADMIN, token_id=view.id, now=later(minutes=1))
    return secret


def _expired(db: Database, team: str) -> str:
    return _issue(db, team, expires_at=later(hours=1))[1]


def _unknown(db: Database, team: str) -> str:
    secret = _issue(db, team)[1]
    return secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")


@pytest.mark.parametrize(
    ("make", "reason"),
    [(_revoked, "revoked"), (_expired, "expired"), (_unknown, "not valid")],
    ids=["revoked", "expired", "unknown"],
)
def test_revoked_expired_and_unknown_tokens_are_refused_saying_why(
    db: Database, alpha: str, make: Callable[[Database, str], str], reason: str
) -> None:
    secret = make(db, alpha)
    with pytest.raises(Unauthorized, match=reason):
        _authenticate(db, secret, now=later(hours=1))


def test_a_token_is_valid_until_the_moment_it_expires(db: Database, alpha: str) -> None:
    _, secret = _issue(db, alpha, expires_at=later(hours=1))
    assert _authenticate(db, secret, now=later(minutes=59)).team == alpha
    with pytest.raises(Unauthorized, match="expired"):
        _authenticate(db, secret, now=later(hours=1))


def test_revoking_twice_keeps_the_first_revocation_time(db: Database, alpha: str) -> None:
    view, _ = _issue(db, alpha)
    for minutes in (1, 5):
        with db.session() as session:
            tokens.revoke_token(session, ADMIN, token_id=view.id, now=later(minutes=minutes))
    with db.session() as session:
        (listed,) = tokens.list_tokens(session, ADMIN, team=alpha)
    assert listed.revoked_at == later(minutes=1)


def test_tokens_are_listed_by_team(db: Database, alpha: str) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="beta", description="", now=START)
        tokens.ensure_admin_token(session, now=START)
    _issue(db, alpha, "ci")
    _issue(db, alpha, "deploy")
    _issue(db, "beta", "ci")

    with db.session() as session:
        every = tokens.list_tokens(session, ADMIN, team=None)
        of_alpha = tokens.list_tokens(session, ADMIN, team=alpha)
        # A team token asking for another team's tokens still gets only its own.
        seen_by_beta = tokens.list_tokens(session, member("beta"), team=alpha)

    assert {(t.team, t.name) for t in every} == {
        (None, "admin"),
        ("alpha", "ci"),
        ("alpha", "deploy"),
        ("beta", "ci"),
    }
    assert sorted(t.name for t in of_alpha) == ["ci", "deploy"]
    assert [(t.team, t.name) for t in seen_by_beta] == [("beta", "ci")]


def test_a_team_token_finds_nothing_of_another_team(db: Database, alpha: str) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="beta", description="", now=START)
        services.create_service(session, ADMIN, team=alpha, name="web", spec=SPEC, now=START)
    beta = member("beta")
    with db.session() as session:
        with pytest.raises(NotFound):
            teams.get_team(session, beta, alpha)
        with pytest.raises(NotFound):
            services.list_services(session, beta, team=alpha)
        with pytest.raises(NotFound):
            services.get_service(session, beta, team=alpha, name="web")


def test_the_admin_token_cannot_be_revoked(db: Database) -> None:
    with db.session() as session:
        secret = tokens.ensure_admin_token(session, now=START)
    assert secret is not None
    admin_id = _authenticate(db, secret).token_id

    with pytest.raises(Invalid, match="admin token cannot be revoked"), db.session() as session:
        tokens.revoke_token(session, ADMIN, token_id=admin_id, now=later(minutes=1))
    assert _authenticate(db, secret, now=later(minutes=2)).is_admin


def test_revoking_an_unknown_token_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound), db.session() as session:
        tokens.revoke_token(session, ADMIN, token_id="000000000000", now=START)


@pytest.mark.parametrize(
    ("name", "expires_at", "field"),
    [("", None, "name"), ("x" * 61, None, "name"), ("ci", START, "expires_at")],
)
def test_invalid_token_requests_are_refused_naming_the_field(
    db: Database, alpha: str, name: str, expires_at: datetime | None, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _issue(db, alpha, name, expires_at=expires_at)
    assert refused.value.field == field
    with db.session() as session:
        assert tokens.list_tokens(session, ADMIN, team=alpha) == []


def test_only_the_admin_issues_and_revokes_tokens(db: Database, alpha: str) -> None:
    view, _ = _issue(db, alpha)
    with pytest.raises(Forbidden), db.session() as session:
        tokens.create_token(
            session, member(alpha), team=alpha, name="mine", expires_at=None, now=START
        )
    with pytest.raises(Forbidden), db.session() as session:
        tokens.revoke_token(session, member(alpha), token_id=view.id, now=START)
    with db.session() as session:
        assert [t.revoked_at for t in tokens.list_tokens(session, ADMIN, team=alpha)] == [None]
