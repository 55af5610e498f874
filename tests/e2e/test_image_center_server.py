"""The image center in the real `dockyard server` process, driven as a team would drive it:
`git push` to the service's Dockyard remote builds and deploys to test, then the CLI promotes
the same digest to sandbox. The other image-center tests compose their own app; this one
proves `dockyard server` itself serves every part of it (it once answered 503 to them all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.domain.instance import LABEL_ENV, LABEL_SERVICE, LABEL_TEAM
from tests.support.fixtures import TEST_NETWORK
from tests.support.git_repos import AUTHOR, Repo, service_files
from tests.support.registry import RunningRegistry
from tests.support.server import ServerProcess

pytestmark = pytest.mark.docker


@pytest.fixture
def server(
    tmp_path: Path,
    registry: RunningRegistry,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> Iterator[ServerProcess]:
    """The server, stopped before `docker_team`'s containers are removed (a running server
    would start them again, and they would outlive the test)."""
    state = tmp_path / "state"
    state.mkdir()
    process = ServerProcess(
        state,
        network=TEST_NETWORK,
        extra_env={"DOCKYARD_REGISTRY": registry.address, "DOCKYARD_REGISTRY_MANAGED": "false"},
    )
    process.start()
    yield process
    process.stop()


def _cli(server: ServerProcess, token: str, home: Path, *args: str) -> str:
    env = {**os.environ, "DOCKYARD_URL": server.url, "DOCKYARD_TOKEN": token, "HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stderr or done.stdout}"
    return done.stdout


def _wait_env(
    server: ServerProcess, path: str, *, image: str, timeout_s: float = 120
) -> dict[str, Any]:
    """The environment once its current revision runs `image` and is available."""
    deadline = time.monotonic() + timeout_s
    answer: dict[str, Any] = {}
    with server.client() as client:
        while time.monotonic() < deadline:
            answer = client.get(path).json()
            current, status = answer.get("current") or {}, answer.get("status") or {}
            if current.get("image") == image and status.get("phase") == "available":
                return answer
            time.sleep(0.2)
    raise AssertionError(f"{path} never ran {image}: {answer.get('status')}")


def _build(server: ServerProcess, path: str, timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with server.client() as client:
        while time.monotonic() < deadline:
            build: dict[str, Any] = client.get(path).json()
            if build["state"] not in ("queued", "running"):
                return build
            time.sleep(0.2)
    raise AssertionError(f"{path} did not end in {timeout_s} s")


def test_a_push_to_the_server_builds_deploys_and_promotes_one_digest(
    server: ServerProcess,
    tmp_path: Path,
    test_image: str,
    docker_team: str,
    docker_engine: docker.APIClient,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    _cli(server, server.token, home, "teams", "create", docker_team)
    created = json.loads(
        _cli(server, server.token, home, "tokens", "create", "--team", docker_team, "--name", "ci",
             "-o", "json")
    )  # fmt: skip
    token = created["token"]
    _cli(server, token, home, "service", "create", "web", "--image", test_image, "--port", "8080",
         "--health-http", "/health", "--health-interval", "1")  # fmt: skip

    work = Repo(tmp_path / "work")
    sha = work.commit(service_files("pushed"), message="serve pushed")
    remote = f"http://git:{token}@{server.url.removeprefix('http://')}/git/{docker_team}/web.git"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_TERMINAL_PROMPT": "0", **AUTHOR}
    pushed = subprocess.run(
        ["git", "-C", str(work.path), "push", remote, "main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "build 1 of web queued for main" in pushed.stderr

    service = f"/api/v1/teams/{docker_team}/services/web"
    build = _build(server, f"{service}/builds/1")
    assert build["state"] == "succeeded", build.get("reason")
    assert build["commit"] == sha
    reference = build["image"]["reference"]
    _wait_env(server, f"{service}/envs/test", image=reference)

    _cli(server, token, home, "promotion-policy", "web", "--soak", "0")
    _cli(server, token, home, "promote", "web", "--from", "test", "--to", "sandbox")
    _wait_env(server, f"{service}/envs/sandbox", image=reference)

    for env_name in ("test", "sandbox"):
        containers = docker_engine.containers(
            all=False,
            filters={"label": [f"{LABEL_TEAM}={docker_team}", f"{LABEL_SERVICE}=web",
                               f"{LABEL_ENV}={env_name}"]},
        )  # fmt: skip
        assert containers, env_name
        for summary in containers:
            local = docker_engine.inspect_image(summary["ImageID"])
            assert reference in local["RepoDigests"], env_name
