"""Pytest fixtures for tests that need the Docker engine, imported by tests/conftest.py.

Every test that starts containers gets a random team name (`docker_team`) and, afterwards, every
container of that team is removed, so tests can run in parallel on one shared engine and never
touch containers they did not make.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import docker
import pytest
from docker.errors import APIError

from dockyard.domain.instance import LABEL_MANAGED, LABEL_TEAM
from dockyard.runtimes.docker import DockerRuntime
from tests.support.engine import EngineMissingError, ensure_engine
from tests.support.images import ensure_test_image

# Tests use their own network, so a real Dockyard on the same engine is never disturbed.
TEST_NETWORK = "dockyard-test"


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.APIClient]:
    """A client of a running engine, started if need be; skips only if Docker isn't installed."""
    try:
        ensure_engine()
    except EngineMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Docker tests: {exc}")
        pytest.skip(str(exc))
    client = docker.APIClient(version="auto")
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_image(docker_engine: docker.APIClient) -> str:
    """Tag of the busybox test image (httpd on 8080, /www/health), built if missing."""
    return ensure_test_image(docker_engine)


@pytest.fixture
def team() -> str:
    """A team name no other test uses: 't' and 8 hex digits (a valid name, with room to add)."""
    return "t" + secrets.token_hex(4)


@pytest.fixture
def docker_team(docker_engine: docker.APIClient, team: str) -> Iterator[str]:
    """`team`, and afterwards every container whose team label starts with it is removed."""
    yield team
    remove_team_containers(docker_engine, team)


@pytest.fixture
def docker_runtime(docker_engine: docker.APIClient) -> Iterator[DockerRuntime]:
    """A DockerRuntime on the shared engine and the tests' own network."""
    runtime = DockerRuntime(network=TEST_NETWORK)
    yield runtime
    runtime.close()


def remove_team_containers(client: docker.APIClient, prefix: str) -> None:
    """Force-remove Dockyard containers whose team label starts with `prefix`."""
    for entry in client.containers(all=True, filters={"label": [LABEL_MANAGED]}):
        if (entry.get("Labels") or {}).get(LABEL_TEAM, "").startswith(prefix):
            try:
                client.remove_container(entry["Id"], force=True, v=True)
            except APIError as exc:
                if exc.status_code not in (404, 409):  # gone, or being removed already
                    raise
