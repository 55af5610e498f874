"""Services: created with their four environments, paged by name, soft-deleted, then purged."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.principal import Principal
from dockyard.store import environments, releases, services, status, teams
from dockyard.store.db import Database
from dockyard.store.models import EnvironmentRow, ServiceRow

from .store_support import ADMIN, SPEC, START, later, member


def _create(db: Database, team: str, name: str) -> None:
    with db.session() as session:
        services.create_service(session, ADMIN, team=team, name=name, spec=SPEC, now=START)


def _service_id(db: Database, name: str) -> int:
    with db.session() as session:
        found = session.scalar(select(ServiceRow.id).where(ServiceRow.name == name))
    assert found is not None
    return found


def test_a_new_service_has_four_environments_never_deployed(db: Database, alpha: str) -> None:
    _create(db, alpha, "web")
    with db.session() as session:
        names = session.scalars(
            select(EnvironmentRow.name).where(EnvironmentRow.current_revision.is_(None))
        ).all()
        views = environments.environments(session, ADMIN, team=alpha, service="web")
        got = services.get_service(session, member(alpha), team=alpha, name="web")

    assert sorted(names) == sorted(env.value for env in Environment)
    assert [(v.env, v.current, v.status.phase) for v in views] == [
        (env, None, "idle") for env in Environment
    ]
    assert (got.spec, got.created_at, got.updated_at, got.deleting) == (SPEC, START, START, False)


def test_a_second_service_with_the_same_name_is_a_conflict(db: Database, alpha: str) -> None:
    _create(db, alpha, "web")
    with pytest.raises(Conflict, match="exists"):
        _create(db, alpha, "web")


def test_two_teams_may_use_the_same_service_name(db: Database, alpha: str) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="beta", description="", now=START)
    _create(db, alpha, "web")
    _create(db, "beta", "web")
    with db.session() as session:
        assert [s.team for s in services.list_services(session, ADMIN, team="beta")] == ["beta"]


def test_services_are_listed_in_pages_by_name(db: Database, alpha: str) -> None:
    for name in ("echo", "alpha", "delta", "bravo", "charlie"):
        _create(db, alpha, name)
    pages: list[list[str]] = []
    after: str | None = None
    with db.session() as session:
        while True:
            page = services.list_services(session, ADMIN, team=alpha, limit=2, after=after)
            if not page:
                break
            pages.append([s.name for s in page])
            after = page[-1].name
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]


@pytest.mark.parametrize("limit", [0, services.MAX_PAGE + 1])
def test_a_page_size_out_of_range_is_refused(db: Database, alpha: str, limit: int) -> None:
    with pytest.raises(Invalid) as refused, db.session() as session:
        services.list_services(session, ADMIN, team=alpha, limit=limit)
    assert refused.value.field == "limit"


def test_updating_a_service_replaces_its_template_but_not_its_releases(
    db: Database, alpha: str, web: str
) -> None:
    with db.session() as session:
        releases.deploy(
            session, releases.Change(ADMIN, START), team=alpha, service=web, env=Environment.TEST
        )
    new_spec = dataclasses.replace(SPEC, image="alpha/web:2")
    with db.session() as session:
        services.update_service(
            session, member(alpha), team=alpha, name=web, spec=new_spec, now=later(hours=1)
        )
    with db.session() as session:
        got = services.get_service(session, ADMIN, team=alpha, name=web)
        (current,) = releases.history(session, ADMIN, team=alpha, service=web, env=Environment.TEST)

    assert (got.spec.image, got.created_at, got.updated_at) == (
        "alpha/web:2",
        START,
        later(hours=1),
    )
    assert current.spec.image == "alpha/web:1"


def test_a_deleted_service_is_hidden_and_its_name_taken_until_purged(
    db: Database, alpha: str, web: str
) -> None:
    with db.session() as session:
        deleted = services.delete_service(session, ADMIN, team=alpha, name=web, now=later(hours=1))
    assert deleted.deleting

    with db.session() as session:
        assert services.list_services(session, ADMIN, team=alpha) == []
        with pytest.raises(NotFound):
            services.get_service(session, ADMIN, team=alpha, name=web)
    with pytest.raises(Conflict, match="still being deleted"):
        _create(db, alpha, web)

    with db.session() as session:
        assert status.purge_service(session, _service_id(db, web))
    _create(db, alpha, web)
    with db.session() as session:
        assert [s.name for s in services.list_services(session, ADMIN, team=alpha)] == [web]


_VERBS_ON_ONE_SERVICE: dict[str, Callable[[Session, Principal], object]] = {
    "get": lambda s, who: services.get_service(s, who, team="alpha", name="web"),
    "update": lambda s, who: services.update_service(
        s, who, team="alpha", name="web", spec=SPEC, now=START
    ),
    "delete": lambda s, who: services.delete_service(s, who, team="alpha", name="web", now=START),
}


@pytest.mark.parametrize("verb", _VERBS_ON_ONE_SERVICE.values(), ids=_VERBS_ON_ONE_SERVICE)
@pytest.mark.usefixtures("web")
def test_another_teams_service_is_not_found(
    db: Database, verb: Callable[[Session, Principal], object]
) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="beta", description="", now=START)
    with pytest.raises(NotFound), db.session() as session:
        verb(session, member("beta"))
    with db.session() as session:
        assert verb(session, member("alpha")) is not None  # the owner reaches it


def test_an_invalid_service_name_is_refused(db: Database, alpha: str) -> None:
    with pytest.raises(Invalid) as refused:
        _create(db, alpha, "Web_1")
    assert refused.value.field == "name"
    with db.session() as session:
        assert services.list_services(session, ADMIN, team=alpha) == []


def test_a_service_of_an_unknown_team_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound, match="team 'ghost' not found"):
        _create(db, "ghost", "web")
