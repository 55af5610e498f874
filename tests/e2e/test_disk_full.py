"""The disk of the state directory full: writes are refused with a clear error (507, a JSON
body naming the disk and what to do, one line in the CLI), reads keep working, nothing written
before is lost or corrupted, the server and its controllers stay up, and once space is freed
writes succeed again without a restart, and a server restarted meanwhile starts again.

Real parts: `dockyard server` as a child process whose state directory (SQLite database, its
own log) is a small tmpfs of its own that the test fills, and the Docker engine.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.small_disk import SmallDisk, small_disk

pytestmark = pytest.mark.docker
NETWORK = "dockyard-test"
SERVICE = {
    "name": "web",
    "ports": [{"container_port": 8080}],
    "health_check": {"http_path": "/health", "interval_s": 1, "timeout_s": 1},
    "stop_grace_s": 1,
}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "state", size_mb=24) as found:
        yield found


@pytest.fixture
def server(
    disk: SmallDisk, docker_engine: docker.APIClient, docker_team: str
) -> Iterator[ServerProcess]:
    """A server over the small disk, stopped before the team's containers are removed and the
    disk unmounted."""
    process = ServerProcess(
        disk.root, network=NETWORK, extra_env={"DOCKYARD_RESYNC_INTERVAL_S": "1"}
    )
    process.start()
    yield process
    process.stop()


def _wait_available(api: httpx.Client, base: str, revision: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.get(base).json()["status"] or {}
        if status.get("phase") == "available" and status.get("revision") == revision:
            return
        time.sleep(0.2)
    raise AssertionError(f"revision {revision} not available within 60 s: {status}")


def _assert_disk_full(response: httpx.Response, disk: SmallDisk) -> None:
    assert response.status_code == 507, f"{response.status_code} {response.text}"
    body = response.json()
    assert body["error"] == "disk_full", body
    assert str(disk.root) in body["message"], body
    assert "free" in body["message"], body


def _rows(database: Path) -> tuple[str, list[Any], list[Any]]:
    """(integrity check, teams, releases) read from the database file itself."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        teams = db.execute("SELECT name FROM teams ORDER BY name").fetchall()
        releases = db.execute("SELECT env, number FROM releases ORDER BY env, number").fetchall()
    return integrity, teams, releases


def _containers(engine: docker.APIClient, team: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = engine.containers(
        all=True, filters={"label": [f"io.dockyard.team={team}"]}
    )
    return found


def _cli(server: ServerProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DOCKYARD_URL": server.url,
        "DOCKYARD_TOKEN": server.token,
    }
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_full_disk_refuses_writes_clearly_and_loses_nothing(
    server: ServerProcess,
    disk: SmallDisk,
    docker_engine: docker.APIClient,
    docker_team: str,
    test_image: str,
    tmp_path: Path,
) -> None:
    team = docker_team
    base = f"/api/v1/teams/{team}/services/web/envs/test"
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        spec = {**SERVICE, "image": test_image}
        api.post(f"/api/v1/teams/{team}/services", json=spec).raise_for_status()
        api.post(f"{base}/deploy", json={"replicas": 1}).raise_for_status()
        _wait_available(api, base, 1)
        before = _rows(disk.root / "dockyard.db")[1:]

        disk.fill()
        _assert_disk_full(api.post("/api/v1/teams", json={"name": team + "x"}), disk)
        service = {**SERVICE, "name": "api", "image": test_image}
        _assert_disk_full(api.post(f"/api/v1/teams/{team}/services", json=service), disk)
        _assert_disk_full(api.post(f"{base}/deploy", json={"replicas": 2}), disk)

        done = _cli(server, tmp_path / "home", "teams", "create", team + "y")
        assert done.returncode == 1, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert "disk" in lines[0] and str(disk.root) in lines[0], lines

        # Reads keep working, and the controllers keep passing over the service (once a
        # second here) without ending the server, even with an instance to replace.
        assert [t["name"] for t in api.get("/api/v1/teams").json()["items"]] == [team]
        assert api.get(base).json()["status"]["phase"] == "available"
        for container in _containers(docker_engine, team):
            docker_engine.remove_container(container["Id"], force=True)
        time.sleep(8)
        assert server.process is not None and server.process.poll() is None, server.log_tail()
        assert api.get("/healthz").status_code == 200

        disk.free()
        api.post("/api/v1/teams", json={"name": team + "z"}).raise_for_status()
        api.post(f"{base}/deploy", json={"replicas": 2}).raise_for_status()
        _wait_available(api, base, 2)
        running = [c for c in _containers(docker_engine, team) if c["State"] == "running"]
        instances = api.get(f"{base}/instances").json()["items"]
        assert sorted(c["Labels"]["io.dockyard.instance"] for c in running) == sorted(
            i["id"] for i in instances
        )

    server.stop()
    integrity, teams, releases = _rows(disk.root / "dockyard.db")
    assert integrity == "ok"
    assert teams == sorted([*before[0], (team + "z",)])
    assert releases == [*before[1], ("test", 2)]


@pytest.mark.parametrize("ending", ["kill", "stop"])
def test_a_server_restarted_on_a_full_disk_starts_once_space_is_freed(
    server: ServerProcess, disk: SmallDisk, team: str, ending: str
) -> None:
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
    disk.fill()
    if ending == "kill":
        server.kill()
    else:
        server.stop()

    try:
        server.start(timeout_s=20)
    except RuntimeError:
        pass  # it may not start on a full disk; it must once space is freed
    else:
        with server.client() as api:
            assert api.get(f"/api/v1/teams/{team}").status_code == 200
            _assert_disk_full(api.post("/api/v1/teams", json={"name": team + "x"}), disk)
        server.kill()

    disk.free()
    server.start()
    with server.client() as api:
        assert api.get(f"/api/v1/teams/{team}").status_code == 200
        api.post("/api/v1/teams", json={"name": team + "y"}).raise_for_status()
    server.stop()
    integrity, teams, _ = _rows(disk.root / "dockyard.db")
    assert integrity == "ok"
    assert teams == [(team,), (team + "y",)]


def test_a_hosted_repository_first_used_on_a_full_disk_is_refused_clearly(
    server: ServerProcess, disk: SmallDisk, team: str
) -> None:
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        service = {**SERVICE, "image": "busybox"}
        api.post(f"/api/v1/teams/{team}/services", json=service).raise_for_status()
        disk.fill()

        refs = f"/git/{team}/web.git/info/refs?service=git-upload-pack"
        _assert_disk_full(api.get(refs), disk)

        disk.free()
        assert api.get(refs).status_code == 200
