"""What the server needs to run alarms: the rule publisher, Alertmanager's API, the webhook's
credential, and delivery to the teams' receivers (metrics/receivers.py, whose payload formats
and retries are its own).

The webhook credential is a platform-internal token in a file (<state>/alertmanager/
webhook.token, mode 0600) that `dockyard up` writes before it starts Alertmanager, whose
configuration sends it as `Authorization: Bearer` (credentials_file): it never passes through
the API or the database, and the server reads it at each call, so a new one needs no restart.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from dockyard.domain.alarm import Alarm, ReceiverSpec
from dockyard.domain.clock import Clock
from dockyard.metrics.alertmanager_client import AlertmanagerClient
from dockyard.metrics.receivers import Delivery, Notice, Receiver, SmtpSettings
from dockyard.metrics.receivers import deliver as deliver_notice
from dockyard.metrics.rule_publisher import RulePublisher

log = logging.getLogger("dockyard.alarms")
TOKEN_BYTES = 32


Deliver = Callable[[ReceiverSpec, Alarm, str, str | None], Awaitable[Delivery]]
"""deliver(receiver, alarm, state, link) -> how it went (retries included); never raises for a
receiver's failure."""


def ensure_webhook_token(path: Path) -> bool:
    """Make `path` hold a webhook token (owner-only) if it holds none; True if it was made."""
    if path.exists() and path.read_text().strip():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(TOKEN_BYTES) + "\n")
    os.replace(temporary, path)
    return True


def webhook_token_accepted(path: Path, presented: str) -> bool | None:
    """True if `presented` is the token in `path`, False if not, None if there is none."""
    try:
        expected = path.read_text().strip()
    except FileNotFoundError:
        return None
    if not expected:
        return None
    return hmac.compare_digest(expected.encode(), presented.encode())


def receivers_deliver(clock: Clock, smtp: SmtpSettings | None = None) -> Deliver:
    """Delivery through metrics/receivers.py (its payloads, retries and back-off), e-mail
    through `smtp` (None: e-mail receivers fail saying no SMTP server is configured)."""

    async def deliver(
        receiver: ReceiverSpec, alarm: Alarm, state: str, link: str | None
    ) -> Delivery:
        assert alarm.team is not None  # only a team's alarms have receivers
        target = Receiver(receiver.name, receiver.kind, receiver.target)
        notice = Notice(
            team=alarm.team, service=alarm.service, env=alarm.env, alarm=alarm.alertname,
            severity=alarm.severity, state="resolved" if state == "resolved" else "firing",
            summary=alarm.summary, labels=dict(alarm.labels), starts_at=alarm.starts_at,
            ends_at=alarm.ends_at, link=link,
        )  # fmt: skip
        async with httpx.AsyncClient() as client:
            return await deliver_notice(target, notice, client=client, clock=clock, smtp=smtp)

    return deliver


@dataclass(frozen=True)
class AlarmCenter:
    publisher: RulePublisher
    alertmanager: AlertmanagerClient
    webhook_token_file: Path
    deliver: Deliver | None = None
    """None: alarms are recorded and shown, and sent to no receiver."""
    portal_url: str | None = None
    """The portal's base URL for links in notifications; None: no link."""

    def link(self, alarm: Alarm) -> str | None:
        if self.portal_url is None or alarm.team is None or alarm.service is None:
            return None
        return f"{self.portal_url.rstrip('/')}/ui/teams/{alarm.team}/services/{alarm.service}"
