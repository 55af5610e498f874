"""Delivery to real receivers on loopback: an HTTP server answering from a script (500 twice
then 200, 429 with Retry-After, 400), a port nobody listens on, one that never answers, and
a real SMTP server (Debian's aiosmtpd). Waiting goes through an injected sleep that records
the pauses, so back-offs of seconds take none."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import httpx
import pytest

from dockyard.metrics.receivers import (
    Delivery,
    Notice,
    Receiver,
    ReceiverKind,
    SmtpSettings,
    deliver,
)
from tests.support.alarm_receivers import Answer, ScriptedReceiver, aiosmtpd_missing, smtp_server
from tests.support.nats import free_port

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)
NOTICE = Notice(
    team="shop",
    service="cart",
    env="test",
    alarm="InstanceExited",
    severity="warning",
    state="firing",
    summary="cart-1 exited with status 3",
    labels={"instance": "cart-1"},
    starts_at=NOW,
    ends_at=None,
    link=None,
)


class Pauses:
    """An injected sleep: records each pause and returns at once."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


async def _deliver(
    receiver: Receiver,
    pauses: Pauses,
    *,
    attempts: int = 5,
    smtp: SmtpSettings | None = None,
    timeout_s: float = 5.0,
) -> Delivery:
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        return await deliver(
            receiver,
            NOTICE,
            client=client,
            clock=lambda: NOW,
            smtp=smtp,
            attempts=attempts,
            sleep=pauses,
        )


async def test_server_errors_are_retried_with_doubling_pauses_until_delivered() -> None:
    pauses = Pauses()
    with ScriptedReceiver([Answer(500), Answer(503)]) as server:
        delivery = await _deliver(
            Receiver("hook", ReceiverKind.SLACK, f"{server.url}/hook"), pauses
        )
        bodies = server.json_bodies()
    assert delivery == Delivery(ok=True, attempts=3, error=None)
    assert pauses.taken == [1.0, 2.0]
    assert len(bodies) == 3
    assert bodies[-1]["text"].startswith("*[FIRING] InstanceExited shop/cart (test)*")


async def test_too_many_requests_waits_as_long_as_retry_after_says() -> None:
    pauses = Pauses()
    with ScriptedReceiver([Answer(429, {"Retry-After": "7"})]) as server:
        delivery = await _deliver(Receiver("d", ReceiverKind.DISCORD, server.url), pauses)
        bodies = server.json_bodies()
    assert delivery.ok and delivery.attempts == 2
    assert pauses.taken == [7.0]
    assert bodies[-1]["embeds"][0]["title"] == "[FIRING] InstanceExited shop/cart (test)"


async def test_bad_request_is_not_retried_and_its_answer_is_the_error() -> None:
    pauses = Pauses()
    with ScriptedReceiver([Answer(400, body=b"invalid_payload")]) as server:
        delivery = await _deliver(Receiver("w", ReceiverKind.WECOM, server.url), pauses)
        received = len(server.received)
    assert not delivery.ok
    assert delivery.attempts == 1
    assert received == 1
    assert pauses.taken == []
    assert delivery.error is not None and "400" in delivery.error
    assert "invalid_payload" in delivery.error


async def test_persistent_failure_gives_up_after_the_attempts_allowed() -> None:
    pauses = Pauses()
    with ScriptedReceiver([Answer(502)] * 10) as server:
        delivery = await _deliver(
            Receiver("m", ReceiverKind.MATTERMOST, server.url), pauses, attempts=4
        )
        received = len(server.received)
    assert (delivery.ok, delivery.attempts, received) == (False, 4, 4)
    assert pauses.taken == [1.0, 2.0, 4.0]
    assert delivery.error is not None and "502" in delivery.error


async def test_refused_connection_is_retried_then_reported() -> None:
    pauses = Pauses()
    url = f"http://127.0.0.1:{free_port()}/hook"
    delivery = await _deliver(Receiver("gone", ReceiverKind.WEBHOOK, url), pauses, attempts=3)
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert pauses.taken == [1.0, 2.0]
    assert delivery.error is not None and "could not reach" in delivery.error


async def test_receiver_that_never_answers_times_out_and_is_retried() -> None:
    pauses = Pauses()
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        delivery = await _deliver(
            Receiver("slow", ReceiverKind.WEBHOOK, url), pauses, attempts=2, timeout_s=0.2
        )
    assert (delivery.ok, delivery.attempts) == (False, 2)
    assert delivery.error is not None and "Timeout" in delivery.error


async def test_plain_webhook_gets_dockyards_json_of_the_notice() -> None:
    with ScriptedReceiver() as server:
        delivery = await _deliver(Receiver("own", ReceiverKind.WEBHOOK, server.url), Pauses())
        (body,) = server.json_bodies()
    assert delivery.ok
    assert body["alarm"] == "InstanceExited"
    assert body["labels"] == {"instance": "cart-1"}
    assert body["starts_at"] == "2026-12-07T01:00:00+00:00"


async def test_email_without_smtp_server_fails_without_trying() -> None:
    delivery = await _deliver(Receiver("mail", ReceiverKind.EMAIL, "ops@example.com"), Pauses())
    assert delivery == Delivery(
        ok=False, attempts=0, error="no SMTP server is configured: set DOCKYARD_SMTP_HOST"
    )


async def test_email_arrives_at_a_real_smtp_server(tmp_path: Path) -> None:
    if reason := aiosmtpd_missing():
        pytest.skip(reason)
    with smtp_server(tmp_path / "mail") as (port, box):
        smtp = SmtpSettings(host="127.0.0.1", port=port, sender="dockyard@example.com")
        delivery = await _deliver(
            Receiver("mail", ReceiverKind.EMAIL, "ops@example.com"), Pauses(), smtp=smtp
        )
        messages: list[Message] = list(box)
    assert delivery == Delivery(ok=True, attempts=1, error=None)
    (message,) = messages
    assert message["Subject"] == "[FIRING] InstanceExited shop/cart (test)"
    assert message["To"] == "ops@example.com"
    assert "cart-1 exited with status 3" in str(message.get_payload())


async def test_email_to_an_absent_smtp_server_is_retried() -> None:
    pauses = Pauses()
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_s=2.0)
    delivery = await _deliver(
        Receiver("mail", ReceiverKind.EMAIL, "ops@example.com"), pauses, smtp=smtp, attempts=2
    )
    assert (delivery.ok, delivery.attempts) == (False, 2)
    assert pauses.taken == [1.0]
    assert delivery.error is not None and "could not reach SMTP server" in delivery.error
