"""Real Prometheus and Alertmanager run from the configuration Dockyard writes, on free
loopback ports under a temporary state dir: Prometheus scrapes the agent's metrics address
from the target file, follows that file as it changes, and sends alerts to the Alertmanager."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import Gauge, start_http_server

from dockyard.cli.monitoring import (
    alertmanager_process,
    prometheus_layout,
    prometheus_process,
    ready_problem,
    reload,
    targets_health,
    write_alertmanager_config,
    write_own_targets,
    write_prometheus_config,
)
from dockyard.discovery.balancer_config import Listeners, render, render_map
from dockyard.discovery.balancer_layout import Backend, Layout, Slot
from dockyard.discovery.haproxy import HaproxyFiles
from dockyard.domain.environment import Environment
from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.exposition import registry_of
from dockyard.settings import BalancerSettings, MetricsSettings, Settings
from tests.support.nats import free_port

pytestmark = pytest.mark.timeout(120)
WAIT_S = 30.0


def _settings(state: Path, ports: dict[str, int], agent: str) -> Settings:
    return Settings.from_env(
        {
            "HOME": str(state),
            "DOCKYARD_STATE_DIR": str(state),
            "DOCKYARD_HOST_NAME": "h1",
            "DOCKYARD_PROMETHEUS_URL": f"http://127.0.0.1:{ports['prometheus']}",
            "DOCKYARD_ALERTMANAGER_URL": f"http://127.0.0.1:{ports['alertmanager']}",
            "DOCKYARD_SCRAPE_INTERVAL_S": "1",
            "DOCKYARD_AGENT_METRICS_ADDR": agent,
            "DOCKYARD_INDEXER_METRICS_ADDR": "",
            "DOCKYARD_ARCHIVER_METRICS_ADDR": "",
            "DOCKYARD_BALANCER_METRICS_ADDR": "",
        },
        uid=0,
    )


def _wait(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {WAIT_S:g} s")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    """Both running from Dockyard's files, and the agent's metrics served on a free port;
    everything stopped (and waited for) afterwards."""
    agent = f"127.0.0.1:{free_port()}"
    registry = registry_of()
    running = Gauge(
        "dockyard_test_running", "An instance's figure.", ["instance"], registry=registry
    )
    running.labels(instance="i-web-1").set(1)
    server, thread = start_http_server(int(agent.split(":")[1]), "127.0.0.1", registry)
    ports = {"prometheus": free_port(), "alertmanager": free_port()}
    settings = _settings(tmp_path, ports, agent)
    write_alertmanager_config(settings)
    write_prometheus_config(settings)
    write_own_targets(settings)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for process in (alertmanager_process(settings), prometheus_process(settings)):
            process.log_file.parent.mkdir(parents=True, exist_ok=True)
            with process.log_file.open("ab") as log:
                started.append(subprocess.Popen(process.argv, stdout=log, stderr=log))
        for url in (settings.monitoring.alertmanager_url, settings.monitoring.prometheus_url):
            _wait(f"{url} ready", functools.partial(_ready, url))
        yield settings, agent
    finally:
        for child in started:
            child.terminate()
        for child in started:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _ready(url: str) -> bool:
    return ready_problem(url) is None


def _get(url: str, path: str) -> Any:
    answer = httpx.get(url + path, timeout=5.0)
    answer.raise_for_status()
    return answer.json()


def _targets(settings: Settings) -> list[dict[str, Any]]:
    body = _get(settings.monitoring.prometheus_url, "/api/v1/targets?state=active")
    return list(body["data"]["activeTargets"])


def test_prometheus_scrapes_the_agent_from_the_target_file_and_follows_its_changes(
    stack: tuple[Settings, str],
) -> None:
    settings, agent = stack

    def agent_up() -> dict[str, Any] | None:
        return next((t for t in _targets(settings) if t["health"] == "up"), None)

    target = _wait("the agent's target up", agent_up)
    assert targets_health(settings.monitoring.prometheus_url) == "1 of 1 targets up"
    assert target["scrapeUrl"] == f"http://{agent}/metrics"
    assert (
        target["labels"] | {"component": "agent", "host": "h1", "job": "dockyard"}
        == (target["labels"])
    )
    # The agent serves no metrics any more: its target goes without a reload.
    none = MetricsSettings(agent_addr="", indexer_addr="", archiver_addr="")
    assert write_own_targets(dataclasses.replace(settings, metrics=none))
    _wait("the agent's target gone", lambda: _targets(settings) == [])


def test_an_agent_series_keeps_its_own_instance_label(stack: tuple[Settings, str]) -> None:
    settings, agent = stack

    def labels_of(query: str) -> list[dict[str, str]]:
        body = _get(settings.monitoring.prometheus_url, f"/api/v1/query?query={query}")
        return [result["metric"] for result in body["data"]["result"]]

    (labels,) = _wait("the instance's series", lambda: labels_of("dockyard_test_running"))
    assert labels["instance"] == "i-web-1"
    assert "exported_instance" not in labels
    # A series without an instance of its own keeps the scrape target's.
    (process,) = labels_of("process_cpu_seconds_total")
    assert process["instance"] == agent


RULE = """groups:
  - name: dockyard-test
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {team: shop, service: web, env: test}
"""


def test_a_rule_file_loaded_on_reload_fires_into_the_alertmanager(
    stack: tuple[Settings, str],
) -> None:
    settings, _ = stack
    prometheus, alertmanager = (
        settings.monitoring.prometheus_url, settings.monitoring.alertmanager_url
    )  # fmt: skip

    def alertmanagers() -> list[str]:
        found = _get(prometheus, "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
        return [a["url"] for a in found]

    assert _wait("the Alertmanager known", alertmanagers) == [f"{alertmanager}/api/v2/alerts"]
    write_if_changed(prometheus_layout(settings).rules_dir / "test.yml", RULE)
    assert reload(prometheus) is None

    def fired() -> list[dict[str, Any]]:
        alerts = _get(alertmanager, "/api/v2/alerts")
        return [a for a in alerts if a["labels"].get("alertname") == "AlwaysFiring"]

    alert = _wait("the alert in Alertmanager", fired)[0]
    assert alert["labels"]["team"] == "shop" and alert["status"]["state"] == "active"


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[str]:
    """HAProxy on the configuration the balancer writes for one route, ops/web/test (no
    server ready: it answers 503), answered three times; its exporter's address."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    listeners = Listeners(http=f"127.0.0.1:{free_port()}", metrics=f"127.0.0.1:{free_port()}")
    files = HaproxyFiles(tmp_path)
    route = Backend("ops", "web", Environment.TEST, "http", (Slot(),))
    layout = Layout({route.name: route}, {"web.ops.test.dy": route.name})
    files.config.write_text(render(layout, listeners, files))
    files.map_file.write_text(render_map(layout))
    child = subprocess.Popen(["haproxy", "-W", "-db", "-f", str(tmp_path / "haproxy.cfg")])
    try:
        url = f"http://{listeners.http}/"
        _wait("HAProxy", lambda: _answers(url))
        for _ in range(3):
            httpx.get(url, headers={"Host": "web.ops.test.dy"})
        yield listeners.metrics
    finally:
        child.terminate()
        child.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def test_the_balancers_series_carry_the_team_service_and_env_of_their_route(
    stack: tuple[Settings, str], haproxy: str
) -> None:
    settings, _ = stack
    with_balancer = dataclasses.replace(settings, balancer=BalancerSettings(metrics_addr=haproxy))
    assert write_own_targets(with_balancer)

    def answered() -> list[dict[str, Any]]:
        query = 'haproxy_backend_http_responses_total{job="balancer",code="5xx"}'
        found = _get(settings.monitoring.prometheus_url, f"/api/v1/query?query={query}")
        return list(found["data"]["result"])

    (series,) = _wait("the balancer's series", answered)
    labels = series["metric"]
    assert (labels["team"], labels["service"], labels["env"]) == ("ops", "web", "test")
    assert labels["proxy"] == "ops.web.test" and labels["host"] == "h1"
    assert series["value"][1] == "3"
