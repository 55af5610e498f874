"""What an alarm tells a team, and where it is sent: a `Notice` (one alarm firing or resolved)
for a `Receiver` (a chat webhook, a plain webhook or an e-mail address). Pure vocabulary shared
by the payloads (metrics/chat_payload.py) and the delivery (metrics/receivers.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from dockyard.domain.alarm import ReceiverKind

NoticeState = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Receiver:
    """A named place a team's alarms go to. `target` is an http(s) URL, or for EMAIL an
    e-mail address."""

    name: str
    kind: ReceiverKind
    target: str


@dataclass(frozen=True)
class Notice:
    """One alarm of one team, firing or resolved. `service` and `env` are None for an alarm
    not about one service (a host's); `ends_at` is set once resolved; `link` points at the
    alarm in the portal when the server knows its public URL."""

    team: str
    service: str | None
    env: str | None
    alarm: str
    severity: str
    state: NoticeState
    summary: str
    labels: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    link: str | None = None
