"""A real Prometheus (Debian's) on a free loopback port, scraping every second a target the test
serves itself: Prometheus text made by a function of the time, so counters grow as they would."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.nats import free_port

Exposition = Callable[[float], str]
"""Prometheus text for the moment given (seconds since the target started)."""
WAIT_S = 30.0


def prometheus_or_skip() -> str:
    found = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(found).exists():
        pytest.skip("Prometheus is not installed (Debian package prometheus)")
    return found


@contextlib.contextmanager
def served(exposition: Exposition) -> Iterator[str]:
    """HOST:PORT on loopback answering /metrics with `exposition`; stopped afterwards."""
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition(time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def prometheus(root: Path, target: str) -> Iterator[str]:
    """The URL of a Prometheus scraping `target` every second, once it has scraped it."""
    binary = prometheus_or_skip()
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "test", "static_configs": [{"targets": [target]}]}],
    }
    (root / "prometheus.yml").write_text(json.dumps(config))
    port = free_port()
    argv = [
        binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (root / "prometheus.log").open("ab") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=log)
    try:
        wait_for("Prometheus scraped its target", lambda: _scraped(url))
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def wait_for(what: str, found: Callable[[], object]) -> object:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {WAIT_S:g} s")


def _scraped(url: str) -> bool:
    try:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": "up == 1"}, timeout=2.0)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and bool(answer.json()["data"]["result"])


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The result of an instant query; AssertionError with Prometheus' reason if it fails."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5.0)
    body = answer.json()
    assert answer.status_code == 200, body.get("error")
    return list(body["data"]["result"])
