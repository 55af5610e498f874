"""Built-in instance alarms decided from engine events: which sequences of kill, oom, die and
destroy fire InstanceExited, InstanceOOMKilled and InstanceCrashLooping, and for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.metrics.alert import Identity
from dockyard.metrics.instance_alarms import (
    CRASH_LOOPING,
    EXITED,
    OOM_KILLED,
    ContainerEvent,
    InstanceAlarms,
    Rules,
)

T0 = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)
WHO = Identity("shop", "cart", "test", "cart-1", "h1")
OTHER = Identity("shop", "cart", "test", "cart-2", "h1")


def _event(action: str, s: float, exit_code: int | None = None, c: str = "c1") -> ContainerEvent:
    identity = WHO if c == "c1" else OTHER
    return ContainerEvent(action, c, identity, T0 + timedelta(seconds=s), exit_code)


def _names(alarms: InstanceAlarms, *events: ContainerEvent) -> list[list[str]]:
    return [[alert.name for alert in alarms.observe(e)] for e in events]


@pytest.mark.parametrize(
    ("events", "fired"),
    [
        ([_event("die", 0, 3)], [[EXITED]]),
        ([_event("die", 0, 0)], [[]]),
        ([_event("kill", 0), _event("die", 1, 143)], [[], []]),
        ([_event("kill", 0), _event("die", 9, 137)], [[], []]),
        ([_event("oom", 0), _event("die", 0.1, 137)], [[OOM_KILLED], []]),
        ([_event("oom", 0)], [[OOM_KILLED]]),
        ([_event("kill", 0), _event("die", 700, 1)], [[], [EXITED]]),
        ([_event("kill", 0, c="c2"), _event("die", 1, 1)], [[], [EXITED]]),
        ([_event("kill", 0), _event("die", 1, 143), _event("die", 60, 2)], [[], [], [EXITED]]),
        ([_event("start", 0), _event("stop", 1)], [[], []]),
    ],
    ids=[
        "non-zero exit",
        "clean exit",
        "stopped by the engine",
        "killed after the stop grace",
        "oom kill then its death",
        "oom kill of a child only",
        "a kill long before does not explain the exit",
        "another container's kill does not explain the exit",
        "only the next die is explained by a kill",
        "other actions",
    ],
)
def test_events_fire_the_expected_alarms(
    events: list[ContainerEvent], fired: list[list[str]]
) -> None:
    assert _names(InstanceAlarms(), *events) == fired


def test_exit_alarm_holds_then_resolves_by_itself() -> None:
    (alert,) = InstanceAlarms(Rules(hold=timedelta(minutes=5))).observe(_event("die", 10, 3))
    assert alert.starts_at == T0 + timedelta(seconds=10)
    assert alert.ends_at == T0 + timedelta(minutes=5, seconds=10)
    assert alert.labels() == {
        "alertname": EXITED,
        "team": "shop",
        "service": "cart",
        "env": "test",
        "instance": "cart-1",
        "host": "h1",
        "severity": "warning",
        "dockyard_builtin": "true",
    }
    assert "status 3" in alert.summary


def test_third_unasked_exit_in_five_minutes_fires_crash_loop() -> None:
    alarms = InstanceAlarms()
    fired = _names(alarms, _event("die", 0, 1), _event("die", 60, 1), _event("die", 120, 1))
    assert fired == [[EXITED], [EXITED], [EXITED, CRASH_LOOPING]]


def test_crash_loop_lasts_until_the_window_holds_too_few_exits() -> None:
    alarms = InstanceAlarms()
    for s in (0, 60, 120):
        alerts = alarms.observe(_event("die", s, 1))
    loop = alerts[-1]
    assert loop.name == CRASH_LOOPING and loop.severity == "critical"
    assert loop.ends_at == T0 + timedelta(minutes=5)  # the first exit leaves the window then
    (_, later) = alarms.observe(_event("die", 180, 1))
    assert later.starts_at == loop.starts_at
    assert later.ends_at == T0 + timedelta(seconds=60) + timedelta(minutes=5)


def test_exits_spread_wider_than_the_window_are_no_crash_loop() -> None:
    alarms = InstanceAlarms()
    fired = _names(alarms, _event("die", 0, 1), _event("die", 200, 1), _event("die", 400, 1))
    assert fired == [[EXITED], [EXITED], [EXITED]]


def test_oom_deaths_count_towards_a_crash_loop_and_asked_stops_do_not() -> None:
    alarms = InstanceAlarms()
    events = [
        _event("oom", 0), _event("die", 0.1, 137),
        _event("kill", 30), _event("die", 31, 143),
        _event("oom", 60), _event("die", 60.1, 137),
        _event("oom", 90), _event("die", 90.1, 137),
    ]  # fmt: skip
    assert _names(alarms, *events)[-1] == [CRASH_LOOPING]


def test_destroyed_containers_are_forgotten() -> None:
    alarms = InstanceAlarms()
    alarms.observe(_event("kill", 0))
    alarms.observe(_event("die", 1, 0))
    assert alarms.tracked == 1
    alarms.observe(_event("destroy", 2))
    assert alarms.tracked == 0


def test_memory_stays_bounded_with_containers_that_came_and_went_unseen() -> None:
    alarms = InstanceAlarms(max_containers=100)
    for n in range(1000):
        alarms.observe(ContainerEvent("die", f"c{n}", WHO, T0 + timedelta(seconds=n), 1))
    assert alarms.tracked == 100
    assert alarms.dropped == 900
