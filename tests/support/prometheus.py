"""A real Prometheus (Debian's) on a free loopback port, scraping every second a target the test
serves itself: Prometheus text made by a function of the time, so counters grow as they would.
The target is scraped as Dockyard's own job scrapes an agent: its series keep their own
`instance` label (prometheus_config.own_instance_label)."""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.metrics.prometheus_config import own_instance_label
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
        "scrape_configs": [
            {
                "job_name": "test",
                "static_configs": [{"targets": [target]}],
                "metric_relabel_configs": own_instance_label(),
            }
        ],
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


Instance = tuple[str, str, str, str, str, float, int, int]
INSTANCES: tuple[Instance, ...] = (
    # team, service, env, instance, host, CPU cores used, working set MiB, restarts
    ("alpha", "web", "test", "web-1", "h1", 0.5, 100, 0),
    ("alpha", "web", "test", "web-2", "h1", 0.25, 120, 3),
    ("beta", "web", "test", "web-1", "h2", 2.0, 900, 7),
)
"""What `instances_exposition` serves: two teams, each with a service named web."""
MIB = 1024 * 1024
RX_BYTES_S, TX_BYTES_S = 2000, 500
CPU_LIMITS = {("alpha", "web-1"): 1.0, ("beta", "web-1"): 4.0}
"""CPU limits in cores by (team, instance); the instances not named here have none."""
ROUTES = (("alpha", "web", "test", 12.0, 3.0), ("beta", "web", "test", 100.0, 50.0))
"""The balancer's HTTP routes: team, service, env, requests/s, 5xx answers/s."""


def instances_exposition(elapsed: float, instances: Sequence[Instance] = INSTANCES) -> str:
    """Instance and host series as the agent exports them (metrics/definitions.py names,
    counters with prometheus-client's _total), growing at the rates of `instances`."""
    lines, net = [], "dockyard_instance_network"
    for team, service, env, instance, host, cores, mib, restarts in instances:
        labels = (
            f'team="{team}",service="{service}",env="{env}",instance="{instance}",host="{host}"'
        )
        lines += [
            f"dockyard_instance_cpu_seconds_total{{{labels}}} {10 + cores * elapsed:.3f}",
            f"dockyard_instance_memory_working_set_bytes{{{labels}}} {mib * MIB}",
            f"dockyard_instance_memory_limit_bytes{{{labels}}} {1024 * MIB}",
            f"{net}_receive_bytes_total{{{labels}}} {RX_BYTES_S * elapsed:.0f}",
            f"{net}_transmit_bytes_total{{{labels}}} {TX_BYTES_S * elapsed:.0f}",
            f"dockyard_instance_restarts_total{{{labels}}} {restarts}",
        ]
        if (limit := CPU_LIMITS.get((team, instance))) is not None:
            lines.append(f"dockyard_instance_cpu_limit_cores{{{labels}}} {limit}")
    lines += _balancer_lines(elapsed)
    for host, busy in (("h1", 0.75), ("h2", 0.25)):
        cpu = f'dockyard_host_cpu_seconds_total{{host="{host}"'
        lines += [
            f'{cpu},mode="idle"}} {(1 - busy) * elapsed:.3f}',
            f'{cpu},mode="user"}} {busy * elapsed:.3f}',
            f'dockyard_host_memory_total_bytes{{host="{host}"}} {4096 * MIB}',
            f'dockyard_host_memory_available_bytes{{host="{host}"}} {1024 * MIB}',
            f'dockyard_host_load{{host="{host}",minutes="1"}} 1.5',
            f'dockyard_host_instances{{host="{host}"}} 2',
        ]
    return "\n".join(lines) + "\n"


def _balancer_lines(elapsed: float) -> list[str]:
    """HAProxy 2.6 exporter series of each route, with the labels the balancer job's scrape
    adds (prometheus_config.route_labels)."""
    lines = []
    for team, service, env, requests, errors in ROUTES:
        labels = f'proxy="{team}.{service}.{env}",team="{team}",service="{service}",env="{env}"'
        answers = "haproxy_backend_http_responses_total"
        lines += [
            f"haproxy_backend_http_requests_total{{{labels}}} {requests * elapsed:.0f}",
            f'{answers}{{{labels},code="2xx"}} {(requests - errors) * elapsed:.0f}',
            f'{answers}{{{labels},code="5xx"}} {errors * elapsed:.0f}',
        ]
    return lines


@contextlib.contextmanager
def instances_prometheus(root: Path, instances: Sequence[Instance] = INSTANCES) -> Iterator[str]:
    """A Prometheus holding `instances_exposition`'s series, with ten scrapes of each by the
    time its URL is yielded: a rate over a window not yet full of samples reads low."""
    exposition = functools.partial(instances_exposition, instances=instances)
    with served(exposition) as target, prometheus(root, target) as url:
        wait_for(
            "ten scrapes",
            lambda: query(url, "count_over_time(dockyard_host_instances[1m]) >= 10"),
        )
        yield url
