"""`kill -9` of the server at awkward moments loses nothing: a restarted server finishes the
work with exactly the wanted containers, no duplicates and no orphans.

Real parts: `dockyard server` as a child process, the Docker engine, a SQLite state directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.docker
NETWORK = "dockyard-test"


@pytest.fixture
def server(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> Iterator[ServerProcess]:
    """The server, stopped before `docker_team`'s containers are removed (a running server
    would start them again, and they would outlive the test)."""
    process = ServerProcess(
        tmp_path, network=NETWORK, extra_env={"DOCKYARD_RESYNC_INTERVAL_S": "2"}
    )
    process.start()
    yield process
    process.stop()


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def env_view(api: httpx.Client, base: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(base).json()
    return body


def available_at(api: httpx.Client, base: str, revision: int) -> Callable[[], bool]:
    """Available *for this revision*: a status written for an older one does not count."""

    def check() -> bool:
        status = env_view(api, base)["status"]
        return bool(status["phase"] == "available" and status["revision"] == revision)

    return check


def containers(client: docker.APIClient, team: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.containers(
        all=True, filters={"label": [f"io.dockyard.team={team}"]}
    )
    return found


def create_service(api: httpx.Client, team: str, image: str) -> str:
    api.post("/api/v1/teams", json={"name": team}).raise_for_status()
    spec = {
        "name": "web",
        "image": image,
        "ports": [{"container_port": 8080}],
        "health_check": {"http_path": "/health", "interval_s": 1, "timeout_s": 1},
        "strategy": {"max_surge": 2, "max_unavailable": 0},
        "stop_grace_s": 2,
    }
    api.post(f"/api/v1/teams/{team}/services", json=spec).raise_for_status()
    return f"/api/v1/teams/{team}/services/web/envs/test"


def assert_converged(
    client: docker.APIClient,
    api: httpx.Client,
    base: str,
    *,
    team: str,
    replicas: int,
    revision: int,
) -> None:
    view = env_view(api, base)
    found = containers(client, team)
    summary = sorted(
        (
            c["Labels"]["io.dockyard.instance"],
            c["Labels"]["io.dockyard.revision"],
            c["Labels"]["io.dockyard.template"],
            c["State"],
        )
        for c in found
    )
    assert len(found) == replicas, f"{summary} for {replicas} replicas; status {view}"
    assert {c["State"] for c in found} == {"running"}
    # Scaling never restarts instances, so their revision label may be older than `revision`;
    # what must match is the container template.
    templates = {c["Labels"]["io.dockyard.template"] for c in found}
    assert view["current"]["number"] == revision
    assert templates == {view["current"]["template_hash"]}, f"{summary}; status {view}"
    labelled = {c["Labels"]["io.dockyard.instance"] for c in found}
    assert {i["id"] for i in view["instances"]} == labelled, "status and runtime disagree"


def test_kill_9_mid_rollout_and_mid_scale_out_loses_nothing(
    server: ServerProcess, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    team = docker_team
    with server.client() as api:
        base = create_service(api, team, test_image)
        api.post(f"{base}/deploy", json={"replicas": 4}).raise_for_status()
        wait_for(available_at(api, base, 1), timeout_s=60, what="first deploy")
        api.post(f"{base}/deploy", json={"env": {"VERSION": "2"}}).raise_for_status()
        wait_for(
            lambda: any(
                c["Labels"]["io.dockyard.revision"] == "2" for c in containers(docker_engine, team)
            ),
            timeout_s=30,
            what="the rollout to begin",
        )
    server.kill()  # mid-rollout: old and new revisions both running
    server.start()
    with server.client() as api:
        wait_for(available_at(api, base, 2), timeout_s=90, what="the rollout after restart")
        assert_converged(docker_engine, api, base, team=team, replicas=4, revision=2)

        api.post(f"{base}/scale", json={"replicas": 9}).raise_for_status()
        wait_for(
            lambda: len(containers(docker_engine, team)) > 5,
            timeout_s=30,
            what="the scale-out to begin",
        )
    server.kill()  # mid-scale-out: starts in flight inside dockerd
    server.start()
    with server.client() as api:
        wait_for(available_at(api, base, 3), timeout_s=90, what="the scale-out after restart")
        time.sleep(3)  # a resync or two more: nothing may change once available
        assert_converged(docker_engine, api, base, team=team, replicas=9, revision=3)
        revisions = api.get(f"{base}/revisions").json()["items"]
        assert [r["number"] for r in revisions] == [3, 2, 1]
