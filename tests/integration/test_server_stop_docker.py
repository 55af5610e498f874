"""A server told to stop does stop, even while the endpoint feed's followers (`dockyard names`,
`dockyard balancer`) hold watch streams that never end by themselves: it ends them after a
short grace rather than waiting until its supervisor kills it (seen in the fault suite: the
server waited on its open streams until SIGKILL, its controllers never told to stop).

Real parts: `dockyard server` as a child process, the Docker engine, an SSE watch over HTTP.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.server import GRACEFUL_STOP_S
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
NETWORK = "dockyard-test"


@pytest.fixture
def server(tmp_path: Path, docker_engine: docker.APIClient) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, network=NETWORK)
    process.start()
    yield process
    process.stop()


def test_a_server_with_open_watch_streams_stops_within_its_grace(server: ServerProcess) -> None:
    opened = threading.Semaphore(0)  # released once per stream the server answered

    def follow() -> None:
        with server.client(timeout=60) as client:
            try:
                with client.stream("GET", "/api/v1/endpoints", params={"watch": "1"}) as answer:
                    opened.release()
                    for _ in answer.iter_lines():
                        pass
            except httpx.HTTPError:
                pass  # the server went: what a follower sees, and reconnects after

    followers = [threading.Thread(target=follow, daemon=True) for _ in range(2)]
    for follower in followers:
        follower.start()
    for _ in followers:
        assert opened.acquire(timeout=15), "a watch stream did not open"
    assert server.process is not None
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=GRACEFUL_STOP_S + 10)
    took = time.monotonic() - started
    assert took < GRACEFUL_STOP_S + 10, f"stopped after {took:.1f} s"
    log = server.log_tail(60)
    assert "open request ended by the stop" in log
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert "ERROR" not in log
