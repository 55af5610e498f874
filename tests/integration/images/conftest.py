"""Fixtures for the image center's integration tests: a fresh database, the API with the image
center (builder and follower running) under TestClient, the session's real registry, the real
engine, and git repositories made on the spot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.store.db import Database
from tests.support.git_repos import Repo, service_repo
from tests.support.image_center import ADMIN, Center, running_center, seed
from tests.support.registry import RunningRegistry

__all__ = ["ADMIN", "Center", "seed"]


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images-template") / "dockyard.db"
    Database.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db(tmp_path: Path, migrated_db: Path) -> Iterator[Database]:
    path = tmp_path / "dockyard.db"
    shutil.copyfile(migrated_db, path)
    database = Database.open(f"sqlite:///{path}", upgrade=False)
    yield database
    database.close()


@pytest.fixture
def center(
    db: Database,
    registry: RunningRegistry,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    tmp_path: Path,
) -> Iterator[Center]:
    """Team `docker_team` with tokens `ci` and `lead`, and service `web` (busybox, port 8080)."""
    with running_center(
        db, registry, team=docker_team, image=test_image, work_dir=tmp_path / "builds"
    ) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return service_repo(tmp_path / "src" / "web")
