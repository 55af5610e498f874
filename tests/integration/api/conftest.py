"""Fixtures for the REST API tests: the real app over a temp-file SQLite database, a clock the
test can move, and a notify that records which environments the controller was told about."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.store import services, teams, tokens
from dockyard.store.db import Database

from .api_support import API, START, MovableClock, TestClient, bearer


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def notified() -> list[EnvKey]:
    return []


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with the schema at head, made once: copying it beats migrating per test."""
    path = tmp_path_factory.mktemp("template") / "dockyard.db"
    Database.open(f"sqlite:///{path}").close()  # closing checkpoints the WAL into the file
    return path


@pytest.fixture
def db(tmp_path: Path, migrated: Path) -> Iterator[Database]:
    path = tmp_path / "dockyard.db"
    shutil.copyfile(migrated, path)
    database = Database.open(f"sqlite:///{path}", upgrade=False)
    yield database
    database.close()


@pytest.fixture
def deps(db: Database, clock: MovableClock, notified: list[EnvKey]) -> ApiDeps:
    return ApiDeps(db=db, clock=clock, notify=notified.append)


@pytest.fixture
def client(deps: ApiDeps) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a 500 must reach the test as the JSON a client would see.
    with TestClient(build_api(deps), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def admin(db: Database, clock: MovableClock) -> dict[str, str]:
    """Headers carrying the admin token, bootstrapped as at first start."""
    with db.session() as session:
        secret = tokens.ensure_admin_token(session, now=clock())
    assert secret is not None
    return bearer(secret)


# Setup goes straight to the store (creating teams and services over HTTP is tested on its own);
# it keeps each test's setup to a few milliseconds.
_ADMIN = Principal(token_id="setup", name="admin", team=None)


@pytest.fixture
def alpha(db: Database, clock: MovableClock, admin: dict[str, str]) -> dict[str, str]:
    """Headers of a token named `ci` of team `alpha`."""
    with db.session() as session:
        teams.create_team(session, _ADMIN, name="alpha", description="", now=clock())
        _, secret = tokens.create_token(
            session, _ADMIN, team="alpha", name="ci", expires_at=None, now=clock()
        )
    return bearer(secret)


@pytest.fixture
def web(db: Database, clock: MovableClock, alpha: dict[str, str]) -> str:
    """Service `alpha/web` (image alpha/web:1, port 8080), never deployed; returns its URL."""
    spec = ServiceSpec(image="alpha/web:1", ports=(Port(container_port=8080),))
    with db.session() as session:
        services.create_service(session, _ADMIN, team="alpha", name="web", spec=spec, now=clock())
    return f"{API}/teams/alpha/services/web"
