"""The built-in ServiceNoReadyInstances alarm: a service in an environment that wants
instances and has had none ready for longer than a short grace. Pure: the server's leader
feeds it what the controllers last wrote (controller/readiness_alarms.py) and posts what it
returns.

It fires with a lease (`lease`), renewed every `renew` while it lasts, so an alarm whose
leader went away resolves by itself; it resolves at once (an alert ending now) when an
instance is ready again, the service wants none, or the service is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.metrics.alert import Alert, Identity

NO_READY = "ServiceNoReadyInstances"


@dataclass(frozen=True)
class Readiness:
    """One service in one environment as its controller last saw it."""

    identity: Identity
    desired: int
    ready: int


@dataclass(frozen=True)
class ReadinessRules:
    grace: timedelta = timedelta(seconds=30)
    """How long a service may have no ready instance before it fires (a first deploy, or a
    restart of a single instance, passes through zero)."""
    lease: timedelta = timedelta(minutes=5)
    renew: timedelta = timedelta(minutes=1)


@dataclass
class _Zero:
    since: datetime
    fired_at: datetime | None = None
    renewed_at: datetime | None = None


class ReadinessAlarms:
    """Remembers since when each service has had no ready instance (see the module's docs).
    Keeps one entry per service at zero, dropped once it is not."""

    def __init__(self, rules: ReadinessRules | None = None) -> None:
        self.rules = rules or ReadinessRules()
        self._zero: dict[Identity, _Zero] = {}

    @property
    def tracked(self) -> int:
        """Services at zero ready now (only those are kept)."""
        return len(self._zero)

    def step(self, seen: Iterable[Readiness], now: datetime) -> list[Alert]:
        """The alerts to post after looking at every service's readiness at `now`."""
        alerts: list[Alert] = []
        present = set()
        for one in seen:
            present.add(one.identity)
            if one.desired > 0 and one.ready == 0:
                alert = self._still_zero(one, now)
            else:
                alert = self._resolved(one.identity, now)
            if alert is not None:
                alerts.append(alert)
        for gone in [key for key in self._zero if key not in present]:
            alert = self._resolved(gone, now)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _still_zero(self, one: Readiness, now: datetime) -> Alert | None:
        zero = self._zero.setdefault(one.identity, _Zero(since=now))
        rules = self.rules
        if now - zero.since < rules.grace:
            return None
        if zero.renewed_at is not None and now - zero.renewed_at < rules.renew:
            return None
        zero.fired_at = zero.fired_at or now
        zero.renewed_at = now
        return self._alert(one.identity, zero, ends_at=now + rules.lease, desired=one.desired)

    def _resolved(self, identity: Identity, now: datetime) -> Alert | None:
        zero = self._zero.pop(identity, None)
        if zero is None or zero.fired_at is None:
            return None
        return self._alert(identity, zero, ends_at=now, desired=None)

    def _alert(
        self, identity: Identity, zero: _Zero, *, ends_at: datetime, desired: int | None
    ) -> Alert:
        if desired is None:
            summary = f"{identity.service} in {identity.env} has a ready instance again"
        else:
            seconds = round(self.rules.grace.total_seconds())
            summary = (
                f"{identity.service} in {identity.env} has had no ready instance "
                f"({desired} wanted) for over {seconds} s"
            )
        return Alert(NO_READY, identity, "critical", summary, zero.since, ends_at)
