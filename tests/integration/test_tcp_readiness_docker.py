"""A service without a health check is routed to only once it listens: its instances get the
default TCP connect check on the first port, so an instance whose server starts 2 s after the
container is not an endpoint in between.

Real parts: `dockyard server` as a child process (API and controllers), the Docker engine, the
busybox test image; the test connects to the instances itself to know when they listen.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.server import ServerProcess

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]
NETWORK = "dockyard-test"
PORT = 8080
LATE = ["sh", "-c", f"sleep 2; exec httpd -f -p {PORT} -h /www"]


@pytest.fixture
def server(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> Iterator[ServerProcess]:
    """The server, stopped before `docker_team`'s containers are removed."""
    process = ServerProcess(tmp_path, network=NETWORK)
    process.start()
    yield process
    process.stop()


def container_ips(client: docker.APIClient, team: str) -> list[str]:
    """The addresses of the team's running containers, read from the engine itself."""
    found = client.containers(filters={"label": f"io.dockyard.team={team}"})
    networks = [c["NetworkSettings"]["Networks"].values() for c in found]
    return [n["IPAddress"] for nets in networks for n in nets if n.get("IPAddress")]


def listens(address: str) -> bool:
    try:
        with socket.create_connection((address, PORT), timeout=0.5):
            return True
    except OSError:
        return False


def test_an_instance_that_listens_late_is_no_endpoint_before_it_listens(
    server: ServerProcess, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    team = docker_team
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        ports = [{"container_port": PORT}]
        spec = {"name": "late", "image": test_image, "command": LATE, "ports": ports}
        created = api.post(f"/api/v1/teams/{team}/services", json=spec)
        created.raise_for_status()
        assert created.json()["effective_health"]["kind"] == "tcp"
        base = f"/api/v1/teams/{team}/services/late/envs/test"
        api.post(base + "/deploy", json={"replicas": 1}).raise_for_status()

        seen_closed = False  # the instance had an address and did not listen yet
        routed: list[tuple[str, bool]] = []  # each endpoint seen, and whether it listened
        deadline = time.monotonic() + 60
        while not routed and time.monotonic() < deadline:
            if any(not listens(ip) for ip in container_ips(docker_engine, team)):
                seen_closed = True
            endpoints = api.get(f"/api/v1/endpoints/{team}/late", params={"env": "test"})
            routed = [(e["address"], listens(e["address"])) for e in endpoints.json()["endpoints"]]
            time.sleep(0.1)

    assert seen_closed, "the instance was never seen running before it listened"
    assert routed, "the instance never became an endpoint"
    assert all(listening for _, listening in routed), routed
