"""The `dockyard` CLI as a user runs it, against a real server and the real Docker engine:
team and token, service, deploy (waiting for the rollout), scale, rollback, history,
instances, and a bad request answered with one line and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.postgres import postgres_database, postgres_server
from tests.support.server import ServerProcess

__all__ = ["postgres_database", "postgres_server"]
pytestmark = pytest.mark.docker


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def server(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> Iterator[ServerProcess]:
    """The whole server on the default SQLite file, and on PostgreSQL through its URL; stopped
    before `docker_team`'s containers are removed (a running server would start them again)."""
    extra = {}
    if request.param == "postgres":
        extra["DOCKYARD_DATABASE_URL"] = request.getfixturevalue("postgres_database")
    process = ServerProcess(tmp_path, network="dockyard-test", extra_env=extra)
    process.start()
    yield process
    process.stop()


class Cli:
    def __init__(self, server: ServerProcess, token: str, home: Path) -> None:
        self.env = {
            **os.environ,
            "DOCKYARD_URL": server.url,
            "DOCKYARD_TOKEN": token,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "COLUMNS": "200",
        }

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "dockyard.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stderr or done.stdout}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


def test_a_team_deploys_scales_and_rolls_back_from_the_cli(
    server: ServerProcess, tmp_path: Path, test_image: str, docker_team: str
) -> None:
    admin = Cli(server, server.token, tmp_path)
    admin.run("teams", "create", docker_team)
    created = admin.json("tokens", "create", "--team", docker_team, "--name", "ci")
    team = Cli(server, created["token"], tmp_path)

    team.run(
        "service",
        "create",
        "web",
        "--image",
        test_image,
        "--port",
        "8080",
        "--health-http",
        "/health",
        "--health-interval",
        "1",
        "--memory-mb",
        "64",
        # The test image's shell does not pass SIGTERM on: each stop would wait the whole
        # default grace (10 s), three times per rolling update.
        "--stop-grace",
        "1",
        "--drain",
        "0.5",
    )
    team.run("deploy", "web", "--env", "test", "--replicas", "2")
    instances = team.json("instances", "web", "--env", "test")["items"]
    assert [i["health"] for i in instances] == ["ready", "ready"]

    team.run("scale", "web", "3", "--env", "test")
    team.run("deploy", "web", "--env", "test", "--set", "GREETING=hi")
    team.run("rollback", "web", "--env", "test", "--to", "2")
    history = team.json("history", "web", "--env", "test")["items"]
    assert [r["number"] for r in history] == [4, 3, 2, 1]
    assert history[0]["cause"] == "rollback to 2" and history[0]["replicas"] == 3
    assert "GREETING" not in history[0]["spec"]["env"]
    ready = [i for i in team.json("instances", "web", "--env", "test")["items"]
             if i["health"] == "ready"]  # fmt: skip
    assert len(ready) == 3

    refused = team.run("scale", "web", "100000", "--env", "test", ok=False)
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "replicas" in refused.stderr

    team.run("scale", "web", "0", "--env", "test")
    team.run("service", "delete", "web")
