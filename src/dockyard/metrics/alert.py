"""One alert as Dockyard posts it to Alertmanager's API v2 (`POST /api/v2/alerts`): the
built-in alarms (metrics/instance_alarms.py, metrics/readiness_alarms.py) decide them, the
outbox (metrics/alert_outbox.py) delivers them. Pure.

Every built-in alert carries `dockyard_builtin="true"` beside its identity, so the server can
tell Dockyard's own alarms from the rules teams write; firing alerts always carry an `endsAt`
(their hold, or a lease renewed while they last), so one whose sender went away resolves by
itself instead of firing for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

BUILTIN_LABEL = "dockyard_builtin"


@dataclass(frozen=True)
class Identity:
    """Whose an alert is: an instance (all five set) or a service in an environment
    (`instance` and `host` None)."""

    team: str
    service: str
    env: str
    instance: str | None = None
    host: str | None = None

    def labels(self) -> dict[str, str]:
        given = {
            "team": self.team,
            "service": self.service,
            "env": self.env,
            "instance": self.instance,
            "host": self.host,
        }
        return {key: value for key, value in given.items() if value}


@dataclass(frozen=True)
class Alert:
    """One alert: firing until `ends_at` (resolved once that is past)."""

    name: str
    identity: Identity
    severity: str
    summary: str
    starts_at: datetime
    ends_at: datetime

    @property
    def key(self) -> tuple[str, Identity]:
        """What Alertmanager tells alerts apart by (their labels): a newer alert with the same
        key updates the older one."""
        return self.name, self.identity

    def labels(self) -> dict[str, str]:
        return {
            "alertname": self.name,
            **self.identity.labels(),
            "severity": self.severity,
            BUILTIN_LABEL: "true",
        }


def v2_body(alerts: list[Alert]) -> list[dict[str, Any]]:
    """The JSON array `POST /api/v2/alerts` takes."""
    return [
        {
            "labels": alert.labels(),
            "annotations": {"summary": alert.summary},
            "startsAt": _rfc3339(alert.starts_at),
            "endsAt": _rfc3339(alert.ends_at),
        }
        for alert in alerts
    ]


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("alert times must carry a time zone")
    return moment.isoformat()
