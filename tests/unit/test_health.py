"""Health tracking by table: probe results and exits -> the instance's next record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.controller.health import (
    after_exit,
    after_probe,
    after_restart,
    restart_delay,
    restart_due,
)
from dockyard.domain.spec import HealthCheck
from dockyard.domain.status import Health, InstanceRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECK = HealthCheck(http_path="/health", port=8080, interval_s=1, retries=3, start_period_s=2)


def record(health: Health, failures: int = 0) -> InstanceRecord:
    return InstanceRecord(
        id="i",
        revision=1,
        template_hash="t",
        runtime_id="c",
        state="running",
        health=health,
        health_failures=failures,
        started_at=T0,
    )


@pytest.mark.parametrize(
    ("health", "failures", "ok", "after_s", "expect", "expect_failures"),
    [
        (Health.STARTING, 0, True, 0.1, Health.READY, 0),
        (Health.STARTING, 0, False, 1.0, Health.STARTING, 0),  # inside the start period
        (Health.STARTING, 0, False, 4.9, Health.STARTING, 0),  # 2 s + 3 x 1 s not yet over
        (Health.STARTING, 0, False, 5.0, Health.UNHEALTHY, 3),
        (Health.READY, 0, True, 9, Health.READY, 0),
        (Health.READY, 1, True, 9, Health.READY, 0),  # a success resets the count
        (Health.READY, 0, False, 9, Health.READY, 1),
        (Health.READY, 2, False, 9, Health.UNHEALTHY, 3),
        (Health.UNHEALTHY, 3, True, 9, Health.READY, 0),
    ],
)
def test_after_probe(
    health: Health, failures: int, ok: bool, after_s: float, expect: Health, expect_failures: int
) -> None:
    now = T0 + timedelta(seconds=after_s)
    result = after_probe(record(health, failures), ok=ok, check=CHECK, now=now)
    assert (result.health, result.health_failures) == (expect, expect_failures)
    if expect is Health.READY and health is not Health.READY:
        assert result.ready_at == now


@pytest.mark.parametrize(
    ("restarts", "delay"), [(0, 1), (1, 2), (3, 8), (5, 32), (6, 60), (40, 60)]
)
def test_restart_delay_doubles_up_to_the_cap(restarts: int, delay: float) -> None:
    assert restart_delay(restarts, cap_s=60) == delay


def test_crash_schedules_a_restart_then_restart_counts_it() -> None:
    crashed = after_exit(record(Health.READY), exit_code=3, log="boom", now=T0, cap_s=60)
    assert (crashed.health, crashed.exit_code, crashed.last_log) == (Health.CRASHED, 3, "boom")
    assert not restart_due(crashed, T0 + timedelta(seconds=0.5))
    assert restart_due(crashed, T0 + timedelta(seconds=1))
    again = after_restart(crashed, now=T0 + timedelta(seconds=1))
    assert (again.health, again.restarts, again.next_restart_at) == (Health.STARTING, 1, None)
