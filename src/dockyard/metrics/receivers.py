"""Delivery of an alarm's notice to one receiver: a POST of the receiver's payload
(metrics/chat_payload.py), or an e-mail through the configured SMTP server, retried with
exponential back-off on what may pass (connection failures, timeouts, 5xx, 429 and its
Retry-After, SMTP 4xx) and given up at once on what will not (any other 4xx, SMTP 5xx).

Alarms reach teams by one path: Alertmanager -> the server's webhook -> history -> `deliver`
to each of the team's receivers. The waiting is injected (`sleep`, `clock`) so a test of a
30 s back-off takes milliseconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import httpx

from dockyard.domain.alarm import ReceiverKind
from dockyard.domain.clock import Clock
from dockyard.metrics.chat_payload import email_body, email_subject, payload
from dockyard.metrics.notice import Notice, NoticeState, Receiver

__all__ = [
    "Delivery",
    "Notice",
    "NoticeState",
    "Receiver",
    "ReceiverKind",
    "SmtpSettings",
    "backoff_s",
    "deliver",
    "payload",
]

log = logging.getLogger("dockyard.receivers")

Sleep = Callable[[float], Awaitable[None]]
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 60.0
"""A receiver's Retry-After is honoured up to this; a longer one would hold the alarm back."""
ERROR_BODY_MAX = 200


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server e-mail receivers are reached through (DOCKYARD_SMTP_*)."""

    host: str
    port: int = 25
    sender: str = "dockyard@localhost"
    """The From address (DOCKYARD_SMTP_FROM)."""
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    """Upgrade the connection with STARTTLS before logging in (DOCKYARD_SMTP_STARTTLS)."""
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Delivery:
    """How one delivery ended: `attempts` made (0 if none could be), the last error if not ok."""

    ok: bool
    attempts: int
    error: str | None


@dataclass(frozen=True)
class _Try:
    """One attempt's outcome: delivered, worth retrying (after `retry_after`, raw), or not."""

    ok: bool
    retry: bool = False
    error: str | None = None
    retry_after: str | None = None


async def deliver(
    receiver: Receiver,
    notice: Notice,
    *,
    client: httpx.AsyncClient,
    clock: Clock,
    smtp: SmtpSettings | None = None,
    attempts: int = 5,
    sleep: Sleep = asyncio.sleep,
) -> Delivery:
    """Send `notice` to `receiver`, trying up to `attempts` times. Never raises for the
    receiver's failures: they are in the returned Delivery (and logged)."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    send = _sender(receiver, notice, client=client, smtp=smtp)
    if send is None:
        return Delivery(False, 0, "no SMTP server is configured: set DOCKYARD_SMTP_HOST")
    for attempt in range(1, attempts + 1):
        outcome = await send()
        if outcome.ok:
            return Delivery(True, attempt, None)
        log.warning(
            "receiver delivery failed receiver=%s kind=%s team=%s alarm=%s attempt=%d error=%s",
            receiver.name, receiver.kind, notice.team, notice.alarm, attempt, outcome.error,
        )  # fmt: skip
        if not outcome.retry or attempt == attempts:
            return Delivery(False, attempt, outcome.error)
        await sleep(backoff_s(attempt, retry_after=outcome.retry_after, clock=clock))
    raise AssertionError("unreachable: the loop returns on its last attempt")


def _sender(
    receiver: Receiver, notice: Notice, *, client: httpx.AsyncClient, smtp: SmtpSettings | None
) -> Callable[[], Awaitable[_Try]] | None:
    """One attempt's coroutine maker; None for e-mail without an SMTP server."""
    if receiver.kind is not ReceiverKind.EMAIL:
        return functools.partial(_post, client, receiver, notice)
    if smtp is None:
        return None
    return functools.partial(asyncio.to_thread, _send_mail, smtp, receiver.target, notice)


def backoff_s(attempt: int, *, retry_after: str | None, clock: Clock) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): the receiver's
    Retry-After (seconds or an HTTP date) if it gave a readable one, bounded to
    RETRY_AFTER_MAX_S; else 1, 2, 4 ... seconds up to BACKOFF_MAX_S."""
    asked = _retry_after_s(retry_after, clock)
    if asked is not None:
        return min(max(asked, 0.0), RETRY_AFTER_MAX_S)
    return min(BACKOFF_FIRST_S * 2.0 ** (attempt - 1), BACKOFF_MAX_S)


def _retry_after_s(raw: str | None, clock: Clock) -> float | None:
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return (moment - clock()).total_seconds()


async def _post(client: httpx.AsyncClient, receiver: Receiver, notice: Notice) -> _Try:
    headers = {"Content-Type": "application/json", "User-Agent": "Dockyard"}
    try:
        answer = await client.post(
            receiver.target, content=payload(receiver, notice), headers=headers
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return _Try(
            False, error=f"{receiver.target!r} is not an http(s) URL ({exc}): fix the receiver"
        )
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        return _Try(
            False,
            retry=True,
            error=f"could not reach {receiver.target}: {type(exc).__name__} {exc}",
        )
    if answer.is_success:
        return _Try(True)
    said = answer.text[:ERROR_BODY_MAX].strip()
    error = f"{receiver.target} answered {answer.status_code} {answer.reason_phrase}: {said}"
    if answer.status_code == 429 or answer.status_code >= 500:
        return _Try(False, retry=True, error=error, retry_after=answer.headers.get("Retry-After"))
    return _Try(False, error=f"{error} (check the receiver's URL and kind)")


def _send_mail(smtp: SmtpSettings, to: str, notice: Notice) -> _Try:
    """Blocking: run in a thread. SMTP 4xx and connection failures are worth retrying."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = email_subject(notice)
    message.set_content(email_body(notice))
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username is not None:
                server.login(smtp.username, smtp.password or "")
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return _Try(
            False, retry=all(400 <= c < 500 for c in codes), error=f"{to} refused: {exc.recipients}"
        )
    except smtplib.SMTPResponseException as exc:
        said = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        error = f"SMTP server {smtp.host}:{smtp.port} answered {exc.smtp_code}: {said}"
        return _Try(False, retry=400 <= exc.smtp_code < 500, error=error)
    except (OSError, smtplib.SMTPException) as exc:
        # Connection refused or reset, timeouts, a server that hung up: all may pass.
        return _Try(
            False, retry=True, error=f"could not reach SMTP server {smtp.host}:{smtp.port}: {exc}"
        )
    return _Try(True)
