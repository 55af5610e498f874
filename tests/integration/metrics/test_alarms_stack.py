"""Alarms end to end with the real programs on free loopback ports: a rule added through the
API is checked by promtool, written to the rule file Prometheus reloads; it fires on a series
this test serves; Alertmanager posts it (with the platform's webhook token) to the server,
which records it; it is acknowledged, silenced and unsilenced through Alertmanager's API, and
resolves when the series falls. A built-in alarm posted straight to Alertmanager is recorded
within seconds."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from dockyard.api import ApiDeps, build_api
from dockyard.cli.monitoring import (
    alertmanager_dir,
    alertmanager_process,
    prometheus_layout,
    prometheus_process,
    ready_problem,
    write_prometheus_config,
)
from dockyard.domain.clock import utcnow
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.metrics import definitions
from dockyard.metrics.alarm_center import ensure_webhook_token
from dockyard.metrics.alertmanager_config import alertmanager_config
from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.prometheus_config import INSTANCES_JOB, Target, render
from dockyard.metrics.rule_check import find_promtool
from dockyard.metrics.target_file import write_targets
from dockyard.server import alarm_center
from dockyard.settings import Settings
from dockyard.store import services, teams, tokens
from dockyard.store.db import Database
from tests.support.alarm_receivers import ScriptedReceiver
from tests.support.nats import free_port
from tests.support.serving import serve

PROGRAMS = ("/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager")
pytestmark = [
    pytest.mark.timeout(150),
    pytest.mark.skipif(
        not all(Path(p).exists() for p in PROGRAMS) or find_promtool() is None,
        reason="prometheus, promtool or prometheus-alertmanager missing: apt-get install "
        "prometheus prometheus-alertmanager",
    ),
]
WAIT_S = 45.0
ADMIN = Principal(token_id="setup", name="admin", team=None)
API = "/api/v1"


@dataclass(eq=False)  # a registry keys its collectors by identity
class Pids(Collector):
    """The agent's pids figure of one instance of alpha/web in test, set by the test."""

    value: float = 5.0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = definitions.PIDS.family()
        family.add_metric(["alpha", "web", "test", "i1", "h1"], self.value)
        yield family


@dataclass(frozen=True)
class Stack:
    server: str
    prometheus: str
    alertmanager: str
    headers: dict[str, str]
    pids: Pids


def _wait(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {WAIT_S:g} s")


def _settings(state: Path, ports: dict[str, int]) -> Settings:
    return Settings.from_env(
        {
            "HOME": str(state),
            "DOCKYARD_STATE_DIR": str(state),
            "DOCKYARD_LISTEN_PORT": str(ports["server"]),
            "DOCKYARD_PROMETHEUS_URL": f"http://127.0.0.1:{ports['prometheus']}",
            "DOCKYARD_ALERTMANAGER_URL": f"http://127.0.0.1:{ports['alertmanager']}",
            "DOCKYARD_SCRAPE_INTERVAL_S": "1",
        },
        uid=0,
    )


def _database(path: Path) -> tuple[Database, dict[str, str]]:
    db = Database.open(f"sqlite:///{path}")
    now = utcnow()
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=now)
        services.create_service(
            session, ADMIN, team="alpha", name="web", spec=ServiceSpec(image="a/w:1"), now=now
        )
        _, secret = tokens.create_token(
            session, ADMIN, team="alpha", name="ci", expires_at=None, now=now
        )
    return db, {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    pids = Pids()
    registry = CollectorRegistry()
    registry.register(pids)
    metrics_port = free_port()
    exporter, exporter_thread = start_http_server(metrics_port, "127.0.0.1", registry)
    db, headers = _database(tmp_path / "dockyard.db")
    ports = {"server": 1, "prometheus": free_port(), "alertmanager": free_port()}
    center = alarm_center(_settings(tmp_path, ports), utcnow)
    app = build_api(ApiDeps(db=db, clock=utcnow, notify=lambda key: None, alarms=center))
    started: list[subprocess.Popen[bytes]] = []
    try:
        with serve(app) as server:
            ports["server"] = int(server.rsplit(":", 1)[1])
            settings = _settings(tmp_path, ports)
            _write_configs(settings, f"127.0.0.1:{metrics_port}")
            for process in (alertmanager_process(settings), prometheus_process(settings)):
                process.log_file.parent.mkdir(parents=True, exist_ok=True)
                with process.log_file.open("ab") as log:
                    started.append(subprocess.Popen(process.argv, stdout=log, stderr=log))
            monitoring = settings.monitoring
            for url in (monitoring.alertmanager_url, monitoring.prometheus_url):
                _wait(f"{url} ready", lambda url=url: ready_problem(url) is None)
            yield Stack(
                server, monitoring.prometheus_url, monitoring.alertmanager_url, headers, pids
            )
    finally:
        for child in started:
            child.terminate()
        for child in started:
            child.wait(timeout=30)
        exporter.shutdown()
        exporter.server_close()
        exporter_thread.join(timeout=5)
        db.close()


def _write_configs(settings: Settings, metrics_addr: str) -> None:
    """Prometheus's files as `up` writes them, the served series as an instance target, and
    Alertmanager's with up's route and token but 1 s group timings, so that a resolution
    arrives within the test's time."""
    write_prometheus_config(settings)
    layout = prometheus_layout(settings)
    write_targets(layout, INSTANCES_JOB, "test", [Target(metrics_addr)])
    token_file = settings.monitoring.webhook_token_file
    ensure_webhook_token(token_file)
    config = alertmanager_config(
        settings.listen.local_url, token_file=token_file, group_wait_s=1, group_interval_s=1
    )
    write_if_changed(alertmanager_dir(settings) / "alertmanager.yml", render(config))


def _alarms(stack: Stack, **params: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{stack.server}{API}/teams/alpha/alarms", params=params, headers=stack.headers
    )
    answer.raise_for_status()
    return list(answer.json()["items"])


def _silence(stack: Stack, silence_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{stack.alertmanager}/api/v2/silence/{silence_id}")
    answer.raise_for_status()
    return dict(answer.json())


def test_a_rule_fires_is_recorded_acknowledged_silenced_and_resolves(stack: Stack) -> None:
    with ScriptedReceiver() as chat:
        receiver = {"name": "chat", "kind": "slack", "target": chat.url + "/hook"}
        receivers = f"{stack.server}{API}/teams/alpha/alarm-receivers"
        assert httpx.post(receivers, json=receiver, headers=stack.headers).status_code == 201
        _fire_and_handle(stack)

        def delivered() -> dict[str, Any] | None:
            (shown,) = httpx.get(receivers, headers=stack.headers).json()["items"]
            return shown["state"] if shown["state"]["delivered"] == 2 else None

        state = _wait("both notices delivered", delivered)
        texts = [json.dumps(body) for body in chat.json_bodies()]
    assert state["failed"] == 0
    assert len(texts) == 2 and all("busy" in text for text in texts)  # fired, then resolved


def _fire_and_handle(stack: Stack) -> None:
    rule = {
        "name": "busy", "env": "test", "severity": "critical", "for_s": 0,
        "threshold": {"metric": "pids", "op": ">", "value": 1},
    }  # fmt: skip
    rules = f"{stack.server}{API}/teams/alpha/services/web/alarm-rules"
    created = httpx.post(rules, json=rule, headers=stack.headers, timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["problem"] is None  # Prometheus reloaded it

    fired = _wait("the alarm recorded", lambda: _alarms(stack, state="firing"))
    (alarm,) = fired
    assert alarm["alertname"] == "busy"
    assert alarm["labels"]["dockyard_rule"] == "busy" and alarm["severity"] == "critical"

    base = f"{stack.server}{API}/teams/alpha/alarms/{alarm['id']}"
    acked = httpx.post(f"{base}/ack", headers=stack.headers)
    assert acked.json()["acked_by"] == "alpha/ci"
    silenced = httpx.post(f"{base}/silence", json={"duration": "1h"}, headers=stack.headers)
    assert silenced.status_code == 200, silenced.text
    silence_id = silenced.json()["silence_id"]
    silence = _silence(stack, silence_id)
    assert silence["status"]["state"] == "active"
    assert {m["name"]: m["value"] for m in silence["matchers"]} == alarm["labels"]
    assert httpx.delete(f"{base}/silence", headers=stack.headers).status_code == 200
    assert _silence(stack, silence_id)["status"]["state"] == "expired"

    stack.pids.value = 0
    (resolved,) = _wait("the alarm resolved", lambda: _alarms(stack, state="resolved"))
    assert resolved["id"] == alarm["id"] and resolved["ends_at"] is not None
    assert _alarms(stack, state="firing") == []


def test_a_builtin_alarm_posted_to_alertmanager_is_recorded_within_seconds(
    stack: Stack,
) -> None:
    labels = {
        "alertname": "InstanceExited", "team": "alpha", "service": "web", "env": "test",
        "instance": "i1", "severity": "warning", "dockyard_builtin": "true",
    }  # fmt: skip
    now = datetime.now(UTC)
    ends = now + timedelta(minutes=5)
    alert = {"labels": labels, "annotations": {"summary": "exited with 137"},
             "startsAt": now.isoformat(), "endsAt": ends.isoformat()}  # fmt: skip
    posted = time.monotonic()
    httpx.post(f"{stack.alertmanager}/api/v2/alerts", json=[alert]).raise_for_status()
    (recorded,) = _wait("the built-in alarm recorded", lambda: _alarms(stack))
    took = time.monotonic() - posted
    assert recorded["alertname"] == "InstanceExited" and recorded["summary"] == "exited with 137"
    assert took < 10, f"recorded after {took:.1f} s"


def test_the_webhook_refuses_a_caller_without_the_platform_token(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.server}{API}/alerts/webhook", json={"alerts": []}, headers=stack.headers
    )
    assert answer.status_code == 401
    assert _alarms(stack) == []
