"""The agent's alarm part against a real engine: a container that exits with an error fires
InstanceExited, one the engine was told to stop fires nothing, and three unasked exits of
one instance in a row fire InstanceCrashLooping. Alertmanager's API is stood in for by an
HTTP server on loopback that keeps what it is sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from tests.support.alarm_receivers import ScriptedReceiver

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
WAIT_S = 20.0


@pytest.fixture
async def alarms(docker_engine: docker.APIClient) -> AsyncIterator[ScriptedReceiver]:
    """The part running against the engine; yields the stand-in Alertmanager once its event
    stream is open."""
    engine = docker.APIClient(version="1.41", timeout=None)
    with ScriptedReceiver() as api:
        async with httpx.AsyncClient(timeout=5.0) as client:
            part = EventAlarms(engine, AlertOutbox(api.url, client=client), host="h-test")
            task = asyncio.create_task(part.run())
            try:
                assert await asyncio.to_thread(part.following.wait, 10)
                yield api
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                engine.close()


def _run(client: docker.APIClient, image: str, team: str, instance: str, script: str) -> str:
    labels = {LABEL_MANAGED: "true", LABEL_TEAM: team, LABEL_SERVICE: "web",
              LABEL_ENV: "test", LABEL_INSTANCE: instance}  # fmt: skip
    created = client.create_container(image, command=["sh", "-c", script], labels=labels)
    client.start(created["Id"])
    return str(created["Id"])


async def _alerts_of(api: ScriptedReceiver, instance: str, name: str) -> list[dict[str, Any]]:
    """Every posted alert `name` of `instance`, once there is one (bounded wait)."""
    for _ in range(int(WAIT_S / 0.1)):
        found = [
            alert
            for body in api.json_bodies()
            for alert in body
            if alert["labels"].get("instance") == instance and alert["labels"]["alertname"] == name
        ]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {name} for {instance} within {WAIT_S:g} s: {api.json_bodies()}")


def _names(api: ScriptedReceiver, instance: str) -> set[str]:
    return {
        alert["labels"]["alertname"]
        for body in api.json_bodies()
        for alert in body
        if alert["labels"].get("instance") == instance
    }


async def test_unasked_exit_fires_and_a_stop_does_not(
    alarms: ScriptedReceiver, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    stopped = _run(docker_engine, test_image, docker_team, "quiet-1", "sleep 300")
    await asyncio.to_thread(docker_engine.stop, stopped, timeout=1)
    _run(docker_engine, test_image, docker_team, "crash-1", "exit 3")
    (alert,) = await _alerts_of(alarms, "crash-1", "InstanceExited")
    assert alert["labels"]["team"] == docker_team
    assert "status 3" in alert["annotations"]["summary"]
    # Engine events come in order: the stop was seen before the crash, and fired nothing.
    assert _names(alarms, "quiet-1") == set()


async def test_three_exits_of_one_instance_fire_crash_looping(
    alarms: ScriptedReceiver, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    container = _run(docker_engine, test_image, docker_team, "loop-1", "exit 1")
    for _ in range(2):  # restarted in place, as the controller does
        await asyncio.to_thread(docker_engine.wait, container, timeout=10)
        await asyncio.to_thread(docker_engine.start, container)
    (alert,) = await _alerts_of(alarms, "loop-1", "InstanceCrashLooping")
    assert alert["labels"]["severity"] == "critical"
    assert "3 times" in alert["annotations"]["summary"]
