"""The alert outbox against a real HTTP server on loopback standing in for Alertmanager's
API: alerts posted as API v2 JSON; kept and retried while it fails; dropped when refused as
malformed; never more than `max_kept` kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dockyard.metrics.alert import Alert, Identity
from dockyard.metrics.alert_outbox import AlertOutbox
from tests.support.alarm_receivers import Answer, ScriptedReceiver
from tests.support.nats import free_port

pytestmark = pytest.mark.timeout(30)
T0 = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)


def _alert(instance: str = "cart-1", *, summary: str = "exited") -> Alert:
    who = Identity("shop", "cart", "test", instance, "h1")
    return Alert("InstanceExited", who, "warning", summary, T0, T0 + timedelta(minutes=5))


async def test_alerts_are_posted_as_alertmanager_v2_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="dockyard.alarms")
    with ScriptedReceiver() as server:
        async with httpx.AsyncClient() as client:
            outbox = AlertOutbox(server.url, client=client)
            outbox.put([_alert()])
            assert await outbox.flush()
        ((path, _),) = server.received
        (body,) = server.json_bodies()
    assert path == "/api/v2/alerts"
    assert body == [
        {
            "labels": {
                "alertname": "InstanceExited",
                "team": "shop",
                "service": "cart",
                "env": "test",
                "instance": "cart-1",
                "host": "h1",
                "severity": "warning",
                "dockyard_builtin": "true",
            },
            "annotations": {"summary": "exited"},
            "startsAt": "2026-12-07T01:00:00+00:00",
            "endsAt": "2026-12-07T01:05:00+00:00",
        }
    ]
    assert (outbox.pending, outbox.sent) == (0, 1)
    # Each queued alert is logged once, with its identity and when it ends.
    assert (
        "alarm InstanceExited team=shop service=cart env=test instance=cart-1 host=h1 "
        "until=2026-12-07T01:05:00+00:00"
    ) in caplog.messages


async def test_alerts_are_kept_while_alertmanager_fails_and_sent_when_it_answers() -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    with ScriptedReceiver([Answer(503), Answer(503)]) as server:
        async with httpx.AsyncClient() as client:
            outbox = AlertOutbox(server.url, client=client, sleep=pause)
            running = asyncio.create_task(outbox.run())
            outbox.put([_alert("cart-1"), _alert("cart-2")])
            for _ in range(1000):  # up to 10 s
                if outbox.sent >= 2:
                    break
                await asyncio.sleep(0.01)
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        bodies = server.json_bodies()
    assert pauses == [1.0, 2.0]
    assert len(bodies) == 3
    assert [a["labels"]["instance"] for a in bodies[-1]] == ["cart-1", "cart-2"]
    assert outbox.failing is None


async def test_unreachable_alertmanager_keeps_alerts_and_says_why() -> None:
    async with httpx.AsyncClient() as client:
        outbox = AlertOutbox(f"http://127.0.0.1:{free_port()}", client=client)
        outbox.put([_alert()])
        assert not await outbox.flush()
    assert outbox.pending == 1
    assert outbox.failing is not None and "ConnectError" in outbox.failing


async def test_alerts_refused_as_malformed_are_dropped_not_retried() -> None:
    with ScriptedReceiver([Answer(400, body=b"bad start time")]) as server:
        async with httpx.AsyncClient() as client:
            outbox = AlertOutbox(server.url, client=client)
            outbox.put([_alert()])
            assert await outbox.flush()
    assert (outbox.pending, outbox.dropped, outbox.sent) == (0, 1, 0)


async def test_newer_version_of_a_pending_alert_replaces_it() -> None:
    with ScriptedReceiver() as server:
        async with httpx.AsyncClient() as client:
            outbox = AlertOutbox(server.url, client=client)
            outbox.put([_alert(summary="first")])
            outbox.put([_alert(summary="second")])
            assert outbox.pending == 1
            await outbox.flush()
        ((alert,),) = server.json_bodies()
    assert alert["annotations"]["summary"] == "second"


async def test_kept_alerts_are_bounded_dropping_the_oldest() -> None:
    async with httpx.AsyncClient() as client:
        outbox = AlertOutbox("http://127.0.0.1:1", client=client, max_kept=10)
        outbox.put([_alert(f"cart-{n}") for n in range(25)])
        assert (outbox.pending, outbox.dropped) == (10, 15)
