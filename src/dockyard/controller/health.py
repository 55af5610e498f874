"""Health tracking, pure: how a probe result or an exit changes an instance's record."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from dockyard.domain.spec import HealthCheck
from dockyard.domain.status import Health, InstanceRecord


def restart_delay(restarts: int, *, cap_s: float) -> float:
    """1 s, 2 s, 4 s ... capped: a crash loop costs the engine little."""
    return float(min(2 ** min(restarts, 16), cap_s))


def probe_period(record: InstanceRecord, check: HealthCheck, *, starting_s: float) -> float:
    """Starting instances are probed often so readiness shows quickly; ready ones per `check`."""
    if record.health is Health.STARTING:
        return min(starting_s, check.interval_s)
    return check.interval_s


def after_probe(
    record: InstanceRecord, *, ok: bool, check: HealthCheck, now: datetime
) -> InstanceRecord:
    """The record after one probe.

    Starting: one success makes it ready; it turns unhealthy only when it has not become ready
    within start period + retries x interval. Ready: `retries` failures in a row make it
    unhealthy.
    """
    if ok:
        if record.health is Health.READY:
            return replace(record, health_failures=0)
        return replace(record, health=Health.READY, health_failures=0, ready_at=now)
    if record.health is Health.STARTING:
        started = record.started_at or now
        allowed = timedelta(seconds=check.start_period_s + check.retries * check.interval_s)
        if now - started >= allowed:
            return replace(record, health=Health.UNHEALTHY, health_failures=check.retries)
        return record
    failures = record.health_failures + 1
    health = Health.UNHEALTHY if failures >= check.retries else record.health
    return replace(record, health=health, health_failures=failures)


def after_exit(
    record: InstanceRecord, *, exit_code: int | None, log: str, now: datetime, cap_s: float
) -> InstanceRecord:
    """An instance found exited: crashed, with a restart scheduled after its back-off."""
    delay = restart_delay(record.restarts, cap_s=cap_s)
    return replace(
        record,
        state="exited",
        health=Health.CRASHED,
        exit_code=exit_code,
        last_log=log,
        ready_at=None,
        next_restart_at=now + timedelta(seconds=delay),
    )


def mark_unhealthy_restart(
    record: InstanceRecord, *, now: datetime, cap_s: float
) -> InstanceRecord:
    """An unhealthy instance gets restarted after the same back-off as a crash."""
    if record.next_restart_at is not None:
        return record
    delay = restart_delay(record.restarts, cap_s=cap_s)
    return replace(record, next_restart_at=now + timedelta(seconds=delay))


def restart_due(record: InstanceRecord, now: datetime) -> bool:
    return record.next_restart_at is not None and record.next_restart_at <= now


def after_restart(record: InstanceRecord, *, now: datetime) -> InstanceRecord:
    return replace(
        record,
        state="running",
        health=Health.STARTING,
        health_failures=0,
        restarts=record.restarts + 1,
        started_at=now,
        ready_at=None,
        next_restart_at=None,
    )
