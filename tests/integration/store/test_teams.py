"""Teams: the admin creates and removes them; a team token sees only its own."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Conflict, Forbidden, Invalid, NotFound
from dockyard.store import services, teams
from dockyard.store.db import Database
from dockyard.store.models import TeamRow

from .store_support import ADMIN, SPEC, START, count, member, snapshot


def test_created_teams_are_listed_by_name_and_readable_one_by_one(db: Database) -> None:
    with db.session() as session:
        for name in ("zeta", "alpha"):
            teams.create_team(session, ADMIN, name=name, description=f"{name} team", now=START)
    with db.session() as session:
        assert [t.name for t in teams.list_teams(session, ADMIN)] == ["alpha", "zeta"]
        got = teams.get_team(session, ADMIN, "zeta")
    assert (got.name, got.description, got.created_at) == ("zeta", "zeta team", START)


def test_deleting_a_team_removes_it(db: Database, alpha: str) -> None:
    with db.session() as session:
        teams.delete_team(session, ADMIN, alpha)
    with db.session() as session:
        assert teams.list_teams(session, ADMIN) == []
        with pytest.raises(NotFound):
            teams.get_team(session, ADMIN, alpha)


def test_a_second_team_with_the_same_name_is_a_conflict(db: Database, alpha: str) -> None:
    with pytest.raises(Conflict, match="already exists"), db.session() as session:
        teams.create_team(session, ADMIN, name=alpha, description="again", now=START)
    assert count(db, TeamRow) == 1


def test_a_team_with_services_cannot_be_deleted(db: Database, alpha: str) -> None:
    with db.session() as session:
        services.create_service(session, ADMIN, team=alpha, name="web", spec=SPEC, now=START)
    with pytest.raises(Conflict, match="still has services"), db.session() as session:
        teams.delete_team(session, ADMIN, alpha)
    with db.session() as session:
        assert teams.get_team(session, ADMIN, alpha).name == alpha


@pytest.mark.parametrize(
    ("name", "description", "field"),
    [
        ("", "", "name"),
        ("Alpha", "", "name"),
        ("1alpha", "", "name"),
        ("alpha-", "", "name"),
        ("al_pha", "", "name"),
        ("a" * 31, "", "name"),
        ("alpha", "x" * 201, "description"),
    ],
)
def test_invalid_names_and_descriptions_are_refused_naming_the_field(
    db: Database, name: str, description: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused, db.session() as session:
        teams.create_team(session, ADMIN, name=name, description=description, now=START)
    assert refused.value.field == field
    assert count(db, TeamRow) == 0


def test_longest_valid_name_is_accepted(db: Database) -> None:
    name = "a" * 30
    with db.session() as session:
        teams.create_team(session, ADMIN, name=name, description="x" * 200, now=START)
    with db.session() as session:
        assert teams.get_team(session, ADMIN, name).description == "x" * 200


def test_a_team_token_sees_only_its_own_team(db: Database, alpha: str) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="beta", description="", now=START)
    with db.session() as session:
        assert [t.name for t in teams.list_teams(session, member("beta"))] == ["beta"]
        assert teams.get_team(session, member("beta"), "beta").name == "beta"
        with pytest.raises(NotFound):
            teams.get_team(session, member("beta"), alpha)


def test_only_the_admin_creates_and_deletes_teams(db: Database, alpha: str) -> None:
    before = snapshot(db)
    with pytest.raises(Forbidden), db.session() as session:
        teams.create_team(session, member(alpha), name="gamma", description="", now=START)
    with pytest.raises(Forbidden), db.session() as session:
        teams.delete_team(session, member(alpha), alpha)
    assert snapshot(db) == before


def test_deleting_an_unknown_team_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="not found"), db.session() as session:
        teams.delete_team(session, ADMIN, "nobody")
