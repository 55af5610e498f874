"""Zero failed requests through the load balancer while a service of five instances rolls to
a new revision and scales 5 -> 1 -> 5; an instance killed with SIGKILL is taken out by the
health checks within seconds, costing (almost) no request thanks to the retries.

Real parts: `dockyard server` (API, controllers) and `dockyard balancer` (following the
server's endpoint feed, running Debian's HAProxy) as child processes, the Docker engine, the
busybox test image; a client loop of four connections sends GET /health back to back.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.domain.instance import LABEL_INSTANCE
from tests.support.balancer import BalancerProcess, Load
from tests.support.server import ServerProcess

pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(420),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed"),
]
NETWORK = "dockyard-test"
ENV = "test"


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def server(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> Iterator[ServerProcess]:
    """The server, stopped before `docker_team`'s containers are removed."""
    process = ServerProcess(
        tmp_path / "server", network=NETWORK, extra_env={"DOCKYARD_RESYNC_INTERVAL_S": "2"}
    )
    process.state_dir.mkdir()
    process.start()
    yield process
    process.stop()


@pytest.fixture
def balancer(tmp_path: Path, server: ServerProcess) -> Iterator[BalancerProcess]:
    (tmp_path / "balancer").mkdir()
    process = BalancerProcess(tmp_path / "balancer", server, drain_s=3)
    yield process
    process.stop()


class Service:
    """The `web` service of one team through the API."""

    def __init__(self, api: httpx.Client, team: str, image: str) -> None:
        self.api = api
        self.base = f"/api/v1/teams/{team}/services/web/envs/{ENV}"
        self.backend = f"{team}.web.{ENV}"
        self.host = f"web.{team}.{ENV}.dockyard.internal"
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        spec = {
            "name": "web",
            "image": image,
            "ports": [{"container_port": 8080}],
            "health_check": {"http_path": "/health", "interval_s": 1, "timeout_s": 1},
            "strategy": {"max_surge": 1, "max_unavailable": 0},
            "stop_grace_s": 2,
            "drain_s": 2,
        }
        api.post(f"/api/v1/teams/{team}/services", json=spec).raise_for_status()

    def post(self, verb: str, body: dict[str, object]) -> int:
        """Deploy or scale; the revision it makes."""
        answer = self.api.post(f"{self.base}/{verb}", json=body)
        answer.raise_for_status()
        return int(answer.json()["number"])

    def available(self, revision: int) -> bool:
        status = self.api.get(self.base).json()["status"]
        return bool(status["phase"] == "available" and status["revision"] == revision)

    def instances(self) -> list[dict[str, object]]:
        items: list[dict[str, object]] = self.api.get(self.base + "/instances").json()["items"]
        return items


def serving(balancer: BalancerProcess, service: Service, count: int) -> Callable[[], bool]:
    def check() -> bool:
        ready = [s for s in balancer.servers(service.backend) if s.admin == "ready" and s.up]
        return len(ready) == count

    return check


def under_load(balancer: BalancerProcess, service: Service, step: Callable[[], None]) -> Load:
    load = Load(f"http://127.0.0.1:{balancer.http_port}", service.host)
    load.start()
    try:
        time.sleep(1)  # traffic flows before the change begins
        step()
        time.sleep(1)
    finally:
        load.stop()
    return load


def test_no_request_fails_through_a_rolling_update_and_scaling_and_a_kill_costs_almost_none(
    server: ServerProcess,
    balancer: BalancerProcess,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> None:
    with server.client(timeout=60) as api:
        service = Service(api, docker_team, test_image)
        revision = service.post("deploy", {"replicas": 5})
        wait_for(lambda: service.available(revision), timeout_s=120, what="five instances")
        balancer.start()
        wait_for(serving(balancer, service, 5), timeout_s=10, what="five servers in HAProxy")

        def roll() -> None:
            revision = service.post("deploy", {"env": {"ROUND": "2"}})
            wait_for(lambda: service.available(revision), timeout_s=180, what="rolled out")
            wait_for(serving(balancer, service, 5), timeout_s=10, what="five new servers")

        rolled = under_load(balancer, service, roll)
        assert len(rolled.results) >= 1000, len(rolled.results)
        assert rolled.failures == [], rolled.failures[:5]

        def scale() -> None:
            for replicas in (1, 5):
                made = service.post("scale", {"replicas": replicas})
                wait_for(
                    functools.partial(service.available, made), timeout_s=120, what=f"{replicas}"
                )
                wait_for(serving(balancer, service, replicas), timeout_s=10, what="servers")

        scaled = under_load(balancer, service, scale)
        assert len(scaled.results) >= 1000, len(scaled.results)
        assert scaled.failures == [], scaled.failures[:5]

        victim = service.instances()[0]
        address = str(victim["ip"])
        taken_out: list[float] = []

        def kill() -> None:
            label = f"{LABEL_INSTANCE}={victim['id']}"
            (container,) = docker_engine.containers(filters={"label": [label]})
            docker_engine.kill(container["Id"], signal="SIGKILL")
            killed = time.monotonic()

            def out() -> bool:
                mine = [s for s in balancer.servers(service.backend) if s.address == address]
                return all(not s.up or s.admin != "ready" for s in mine)

            wait_for(out, timeout_s=10, what="the killed instance taken out")
            taken_out.append(time.monotonic() - killed)

        killed = under_load(balancer, service, kill)
    print(
        f"rolling update: {len(rolled.results)} requests, 0 failed; scale 5-1-5: "
        f"{len(scaled.results)} requests, 0 failed; kill -9: {len(killed.results)} requests, "
        f"{len(killed.failures)} failed, out of HAProxy after {taken_out[0]:.1f} s"
    )
    assert taken_out[0] < 5.0
    assert len(killed.failures) <= 2, killed.failures
