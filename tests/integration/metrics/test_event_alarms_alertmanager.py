"""Built-in alarms from engine events reach a team's path within seconds, through the REAL
Alertmanager (Debian's, on a loopback port, run from the configuration Dockyard writes) and
its webhook to a receiver standing in for the server: first from events the engine would
send, then from a real container killed by the OOM killer under a tiny memory limit."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from dockyard.agent.event_alarms import EventAlarms
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_TEAM,
)
from dockyard.metrics.alert_outbox import AlertOutbox
from dockyard.metrics.alertmanager_config import WEBHOOK_PATH
from tests.support.alarm_receivers import ScriptedReceiver
from tests.support.alertmanager import alertmanager, alertmanager_missing

pytestmark = pytest.mark.timeout(120)
ARRIVES_S = 15.0
"""Alertmanager's group_wait (5 s) plus the engine and delivery: "within a few seconds"."""


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    if reason := alertmanager_missing():
        pytest.skip(reason)
    with ScriptedReceiver() as server:
        yield server


def _labels(team: str) -> dict[str, str]:
    return {
        LABEL_MANAGED: "true",
        LABEL_TEAM: team,
        LABEL_SERVICE: "hog",
        LABEL_ENV: "test",
        LABEL_INSTANCE: f"hog-{team[-4:]}",
    }


async def _arrived(server: ScriptedReceiver, alertname: str, wait_s: float) -> dict[str, Any]:
    """The first webhook alert named `alertname` (bounded wait)."""
    for _ in range(int(wait_s / 0.1)):
        for body in server.json_bodies():
            for alert in body.get("alerts", []):
                if alert["labels"].get("alertname") == alertname:
                    return dict(alert)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {alertname} at the webhook within {wait_s:g} s: {server.received}")


class CannedEngine:
    """The events of an OOM-killed container, as the engine's stream gives them, then none
    until closed."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self._events = events
        self._closed = threading.Event()

    def events(self, **_: Any) -> CannedEngine:
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self._events
        self._closed.wait(60)

    def close(self) -> None:
        self._closed.set()


def _event(action: str, labels: dict[str, str], **attributes: str) -> dict[str, Any]:
    now = time.time_ns()
    return {
        "id": "c0ffee",
        "Type": "container",
        "Action": action,
        "Actor": {"ID": "c0ffee", "Attributes": {**labels, **attributes}},
        "time": now // 10**9,
        "timeNano": now,
    }


async def _follow(engine: Any, settings: Any, server: ScriptedReceiver, name: str) -> Any:
    async with httpx.AsyncClient(timeout=5.0) as client:
        outbox = AlertOutbox(settings.monitoring.alertmanager_url, client=client)
        part = asyncio.create_task(EventAlarms(engine, outbox, host="h1").run())
        try:
            return await _arrived(server, name, ARRIVES_S)
        finally:
            part.cancel()
            await asyncio.gather(part, return_exceptions=True)


async def test_oom_event_reaches_the_webhook_through_alertmanager(
    receiver: ScriptedReceiver, tmp_path: Path
) -> None:
    team = "t" + secrets.token_hex(4)
    labels = _labels(team)
    engine = CannedEngine([_event("oom", labels), _event("die", labels, exitCode="137")])
    started = time.monotonic()
    with alertmanager(tmp_path, webhook_port=int(receiver.url.rsplit(":", 1)[1])) as settings:
        alert = await _follow(engine, settings, receiver, "InstanceOOMKilled")
    took = time.monotonic() - started
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "InstanceOOMKilled",
        "team": team,
        "service": "hog",
        "env": "test",
        "instance": labels[LABEL_INSTANCE],
        "host": "h1",
        "severity": "critical",
        "dockyard_builtin": "true",
    }
    assert "lack of memory" in alert["annotations"]["summary"]
    assert receiver.received[0][0] == WEBHOOK_PATH
    assert took < ARRIVES_S


@pytest.mark.docker
async def test_oom_killed_container_alarm_arrives_within_seconds(
    receiver: ScriptedReceiver,
    tmp_path: Path,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> None:
    labels = _labels(docker_team)
    engine = docker.APIClient(version="1.41", timeout=None)
    with alertmanager(tmp_path, webhook_port=int(receiver.url.rsplit(":", 1)[1])) as settings:
        async with httpx.AsyncClient(timeout=5.0) as client:
            outbox = AlertOutbox(settings.monitoring.alertmanager_url, client=client)
            alarms = EventAlarms(engine, outbox, host="h1")
            part = asyncio.create_task(alarms.run())
            try:
                # Events from before the stream opened would not be sent: wait for it.
                assert await asyncio.to_thread(alarms.following.wait, 10)
                started = time.monotonic()
                _start_memory_hog(docker_engine, test_image, labels)
                alert = await _arrived(receiver, "InstanceOOMKilled", ARRIVES_S)
                took = time.monotonic() - started
            finally:
                part.cancel()
                await asyncio.gather(part, return_exceptions=True)
                engine.close()
    assert alert["labels"]["team"] == docker_team
    assert alert["labels"]["instance"] == labels[LABEL_INSTANCE]
    assert alert["labels"]["dockyard_builtin"] == "true"
    assert took < ARRIVES_S


def _start_memory_hog(client: docker.APIClient, image: str, labels: dict[str, str]) -> None:
    """A container limited to 8 MiB that reads 64 MiB into one buffer: the OOM killer ends it."""
    memory = 8 * 1024 * 1024
    created = client.create_container(
        image,
        command=["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
        labels=labels,
        name=f"{labels[LABEL_TEAM]}-hog",
        host_config=client.create_host_config(mem_limit=memory, memswap_limit=memory),
    )
    client.start(created["Id"])
