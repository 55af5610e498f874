"""Fixtures for the store suite: every test runs once on SQLite and once on PostgreSQL, each on
a database of its own, so the two engines are held to one set of semantics."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from dockyard.store import services, teams
from dockyard.store.db import Database
from tests.support.postgres import fresh_database, postgres_database, postgres_server

from .store_support import ADMIN, SPEC, START

__all__ = ["postgres_database", "postgres_server"]

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a new, empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dockyard.db'}"
    database: str = request.getfixturevalue("postgres_database")
    return database


# Migrating takes longer than copying a migrated database, so each engine migrates once per
# session and every test gets its own copy. Migrating from empty is tested through `url`.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "dockyard.db"
    Database.open(f"sqlite:///{path}").close()  # closing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    with fresh_database(postgres_server) as url:
        Database.open(url).close()  # closed: a template must have no open connection
        yield str(make_url(url).database)


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A new platform database at the newest schema."""
    if request.param == "sqlite":
        path = tmp_path / "dockyard.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield from _opened(f"sqlite:///{path}")
        return
    server = request.getfixturevalue("postgres_server")
    with fresh_database(server, template=request.getfixturevalue("postgres_template")) as url:
        yield from _opened(url)


def _opened(url: str) -> Iterator[Database]:
    database = Database.open(url, upgrade=False)
    yield database
    database.close()


@pytest.fixture
def alpha(db: Database) -> str:
    """Team `alpha`, created by the admin at START."""
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="payments", now=START)
    return "alpha"


@pytest.fixture
def web(db: Database, alpha: str) -> str:
    """Service `alpha/web` (SPEC), never deployed."""
    with db.session() as session:
        services.create_service(session, ADMIN, team=alpha, name="web", spec=SPEC, now=START)
    return "web"
