"""Endpoints through a scale-out and a rolling update, watched on a real server process that
drives real containers: every change reaches the watch, each set differs from the one before,
the service never runs out of endpoints, and an instance leaves the set before its container is
stopped (drain first).

Real parts: `dockyard server` as a child process (API and controllers), the Docker engine, the
busybox test image; the watch is the API's server-sent events.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.support.server import ServerProcess

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]
NETWORK = "dockyard-test"


@pytest.fixture
def server(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> Iterator[ServerProcess]:
    """The server, stopped before `docker_team`'s containers are removed."""
    process = ServerProcess(
        tmp_path, network=NETWORK, extra_env={"DOCKYARD_RESYNC_INTERVAL_S": "2"}
    )
    process.start()
    yield process
    process.stop()


class Watch:
    """The endpoint events of one service environment, read in a thread: (arrival, body)."""

    def __init__(self, server: ServerProcess, team: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._url = f"/api/v1/endpoints/{team}/web"
        self._client = server.client(timeout=60)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        params = {"env": "test", "watch": "1"}
        try:
            with self._client.stream("GET", self._url, params=params) as answer:
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        self.events.append((time.time(), json.loads(line[6:])))
        except httpx.HTTPError:
            if not self._stop.is_set():  # closed by `close`: the end, not a failure
                raise

    def last(self) -> dict[tuple[str, int], str]:
        return instances(self.events[-1][1]) if self.events else {}

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(5)


def instances(body: dict[str, Any]) -> dict[tuple[str, int], str]:
    """(instance, revision) -> address of an endpoints answer."""
    return {(e["instance"], e["revision"]): e["address"] for e in body["endpoints"]}


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def available(api: httpx.Client, base: str, revision: int) -> Callable[[], bool]:
    def check() -> bool:
        status = api.get(base).json()["status"]
        return bool(status["phase"] == "available" and status["revision"] == revision)

    return check


def stops(client: docker.APIClient, team: str, since: float) -> dict[str, float]:
    """When each of the team's instances' containers was first told to stop (kill or die)."""
    first: dict[str, float] = {}
    filters = {"type": "container", "label": [f"io.dockyard.team={team}"]}
    for event in client.events(since=since, until=time.time(), filters=filters, decode=True):
        if event.get("Action") in ("kill", "die", "stop"):
            iid = event["Actor"]["Attributes"].get("io.dockyard.instance", "")
            first.setdefault(iid, event["timeNano"] / 1e9)
    return first


def test_a_watch_sees_scale_out_and_rolling_update_and_drains_come_first(
    server: ServerProcess, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    team = docker_team
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        spec = {
            "name": "web",
            "image": test_image,
            "ports": [{"container_port": 8080}],
            "health_check": {"http_path": "/health", "interval_s": 1, "timeout_s": 1},
            "strategy": {"max_surge": 1, "max_unavailable": 0},
            "stop_grace_s": 2,
            "drain_s": 1,
        }
        api.post(f"/api/v1/teams/{team}/services", json=spec).raise_for_status()
        base = f"/api/v1/teams/{team}/services/web/envs/test"
        api.post(base + "/deploy", json={"replicas": 1}).raise_for_status()
        wait_for(available(api, base, 1), timeout_s=60, what="revision 1 available")

        began = time.time()
        watch = Watch(server, team)
        try:
            wait_for(lambda: len(watch.last()) == 1, timeout_s=10, what="the first set")
            api.post(base + "/scale", json={"replicas": 3}).raise_for_status()
            wait_for(available(api, base, 2), timeout_s=60, what="scaled out")
            wait_for(lambda: len(watch.last()) == 3, timeout_s=5, what="three endpoints")
            scaled = len(watch.events)
            api.post(base + "/deploy", json={"env": {"ROUND": "2"}}).raise_for_status()
            wait_for(available(api, base, 3), timeout_s=90, what="rolled out")
            wait_for(
                lambda: {rev for _, rev in watch.last()} == {3} and len(watch.last()) == 3,
                timeout_s=10,
                what="the new revision's three endpoints",
            )
            time.sleep(1.5)  # the last drained container is stopped after its drain period
            final = {(i["id"], i["revision"]) for i in api.get(base + "/instances").json()["items"]}
        finally:
            watch.close()
    stopped = stops(docker_engine, team, began)
    sets = [instances(body) for _, body in watch.events]

    # Each event is a change, and the last one is what runs.
    versions = [body["version"] for _, body in watch.events]
    assert all(a != b for a, b in itertools.pairwise(versions)), versions
    assert set(sets[-1]) == final
    # Scale-out: the set only grows, one to three.
    sizes = [len(s) for s in sets[:scaled]]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] == 3, sizes
    # Rolling update with max_unavailable 0: never fewer than three endpoints.
    assert min(len(s) for s in sets[scaled - 1 :]) >= 3, [len(s) for s in sets]
    # Every instance of revisions 1 and 2 was seen, left the set, and left it before its
    # container was told to stop.
    old = {key for s in sets for key in s if key[1] < 3}
    assert len(old) == 3, old
    for iid, revision in old:
        present = [i for i, s in enumerate(sets) if (iid, revision) in s]
        gone_at = watch.events[present[-1] + 1][0]
        assert iid in stopped, f"{iid}'s container was never stopped"
        assert gone_at < stopped[iid], f"{iid} left the endpoints after its container stopped"
    # Each instance kept its address while it was an endpoint.
    addresses: dict[tuple[str, int], set[str]] = {}
    for s in sets:
        for key, address in s.items():
            addresses.setdefault(key, set()).add(address)
    assert all(len(found) == 1 for found in addresses.values()), addresses
