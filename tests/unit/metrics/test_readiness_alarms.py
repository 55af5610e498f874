"""ServiceNoReadyInstances: fires after the grace with zero ready of a positive desired,
renews its lease while it lasts, resolves when an instance is ready, the service wants none,
or it is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockyard.metrics.alert import Identity
from dockyard.metrics.readiness_alarms import (
    NO_READY,
    Readiness,
    ReadinessAlarms,
    ReadinessRules,
)

T0 = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)
CART = Identity("shop", "cart", "test")
RULES = ReadinessRules(
    grace=timedelta(seconds=30), lease=timedelta(minutes=5), renew=timedelta(minutes=1)
)


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def _cart(desired: int, ready: int) -> list[Readiness]:
    return [Readiness(CART, desired=desired, ready=ready)]


def test_zero_ready_fires_only_after_the_grace() -> None:
    alarms = ReadinessAlarms(RULES)
    assert alarms.step(_cart(3, 0), _at(0)) == []
    assert alarms.step(_cart(3, 0), _at(29)) == []
    (alert,) = alarms.step(_cart(3, 0), _at(30))
    assert alert.name == NO_READY
    assert (alert.starts_at, alert.ends_at) == (_at(0), _at(30 + 300))
    assert alert.labels() == {
        "alertname": NO_READY,
        "team": "shop",
        "service": "cart",
        "env": "test",
        "severity": "critical",
        "dockyard_builtin": "true",
    }
    assert "3 wanted" in alert.summary


def test_firing_alarm_is_renewed_once_a_renew_period() -> None:
    alarms = ReadinessAlarms(RULES)
    alarms.step(_cart(1, 0), _at(0))
    alarms.step(_cart(1, 0), _at(30))
    assert alarms.step(_cart(1, 0), _at(60)) == []
    (renewed,) = alarms.step(_cart(1, 0), _at(90))
    assert (renewed.starts_at, renewed.ends_at) == (_at(0), _at(90 + 300))


def test_ready_again_resolves_at_once() -> None:
    alarms = ReadinessAlarms(RULES)
    alarms.step(_cart(2, 0), _at(0))
    alarms.step(_cart(2, 0), _at(40))
    (resolved,) = alarms.step(_cart(2, 1), _at(45))
    assert resolved.ends_at == _at(45)
    assert "ready instance again" in resolved.summary


def test_recovery_within_the_grace_fires_nothing_and_starts_over() -> None:
    alarms = ReadinessAlarms(RULES)
    alarms.step(_cart(2, 0), _at(0))
    assert alarms.step(_cart(2, 1), _at(20)) == []
    assert alarms.step(_cart(2, 0), _at(40)) == []
    assert alarms.step(_cart(2, 0), _at(65)) == []  # the grace counts from 40 again


def test_scaled_to_zero_or_deleted_resolves() -> None:
    for later in (_cart(0, 0), []):
        alarms = ReadinessAlarms(RULES)
        alarms.step(_cart(1, 0), _at(0))
        alarms.step(_cart(1, 0), _at(30))
        (resolved,) = alarms.step(later, _at(31))
        assert resolved.ends_at == _at(31)


def test_nothing_is_kept_for_healthy_services() -> None:
    alarms = ReadinessAlarms(RULES)
    many = [Readiness(Identity("t", f"s{n}", "test"), desired=2, ready=2) for n in range(500)]
    assert alarms.step(many, _at(0)) == []
    assert alarms.tracked == 0
