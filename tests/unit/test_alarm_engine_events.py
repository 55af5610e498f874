"""The engine's event JSON as the agent's alarm part reads it: which events are a Dockyard
instance's, their time, exit code and identity; and the alerts they queue."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from docker.errors import DockerException

from dockyard.agent.event_alarms import EventAlarms, container_event
from dockyard.metrics.alert import Identity
from dockyard.metrics.alert_outbox import AlertOutbox

LABELS = {
    "io.dockyard.managed": "true",
    "io.dockyard.team": "shop",
    "io.dockyard.service": "cart",
    "io.dockyard.env": "test",
    "io.dockyard.instance": "cart-1",
}


def _raw(action: str, **attributes: str) -> dict[str, Any]:
    return {
        "status": action,
        "id": "abc123",
        "Type": "container",
        "Action": action,
        "Actor": {"ID": "abc123", "Attributes": {**LABELS, "name": "x", **attributes}},
        "time": 1796605200,
        "timeNano": 1796605200_250000000,
    }


def test_die_event_gives_identity_time_and_exit_code() -> None:
    event = container_event(_raw("die", exitCode="137"), host="h1")
    assert event is not None
    assert event.action == "die"
    assert event.container == "abc123"
    assert event.identity == Identity("shop", "cart", "test", "cart-1", "h1")
    assert event.at == datetime(2026, 12, 7, 1, 0, 0, 250000, tzinfo=UTC)
    assert event.exit_code == 137


@pytest.mark.parametrize(
    "raw",
    [
        _raw("start"),
        _raw("exec_start: sh"),
        {**_raw("die"), "Actor": {"ID": "abc123", "Attributes": {"name": "not-ours"}}},
        {**_raw("die"), "Actor": {"ID": "", "Attributes": LABELS}, "id": ""},
        {**_raw("oom"), "Actor": {"ID": "abc", "Attributes": {**LABELS, "io.dockyard.env": ""}}},
    ],
    ids=["start", "exec", "not a dockyard container", "no id", "empty label"],
)
def test_other_events_are_ignored(raw: dict[str, Any]) -> None:
    assert container_event(raw, host="h1") is None


def test_oom_and_kill_carry_no_exit_code() -> None:
    for action in ("oom", "kill"):
        event = container_event(_raw(action, signal="15"), host="h1")
        assert event is not None and event.exit_code is None


async def test_unasked_death_queues_its_alert_for_alertmanager() -> None:
    async with httpx.AsyncClient() as client:
        outbox = AlertOutbox("http://127.0.0.1:1", client=client)
        part = EventAlarms(engine=None, outbox=outbox, host="h1")
        assert part.handle(_raw("kill", signal="15")) == []
        assert part.handle(_raw("die", exitCode="143")) == []
        (alert,) = part.handle({**_raw("die", exitCode="2"), "timeNano": 1796605300_000000000})
    assert alert.name == "InstanceExited"
    assert outbox.pending == 1


class FlakyEngine:
    """An engine whose first event stream breaks after one event; the second replays that
    event (as `since` does for its second) and adds another. Records each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.closed = False

    def events(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        first = {**_raw("die", exitCode="1"), "id": "c1"}
        if len(self.calls) == 1:
            return self._broken(first)
        second = {**_raw("die", exitCode="2"), "id": "c2", "timeNano": 1796605201_000000000}
        return iter([first, second])

    @staticmethod
    def _broken(event: dict[str, Any]) -> Any:
        yield event
        raise DockerException("stream reset")


async def test_broken_event_stream_is_reopened_from_the_last_event_without_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = FlakyEngine()
    async with httpx.AsyncClient() as client:
        outbox = AlertOutbox("http://127.0.0.1:1", client=client)
        part = EventAlarms(engine=engine, outbox=outbox, host="h1", retry_s=0.01)
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()
        watcher = threading.Thread(target=part._watch, args=(stop, loop, events))
        watcher.start()
        try:
            got = [await asyncio.wait_for(events.get(), 5) for _ in range(2)]
        finally:
            stop.set()
            await asyncio.to_thread(watcher.join, 5)
    assert [e["id"] for e in got] == ["c1", "c2"]
    assert engine.calls[0]["since"] is None
    assert engine.calls[1]["since"] == 1796605200
    assert engine.calls[1]["filters"]["label"] == ["io.dockyard.managed"]
    assert "engine events interrupted" in caplog.text and "stream reset" in caplog.text
