"""Status vocabulary the controllers write and users read."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment


class EnvPhase(enum.StrEnum):
    IDLE = "idle"  # never deployed, or scaled to zero and empty
    PROGRESSING = "progressing"  # instances being started, replaced or stopped
    AVAILABLE = "available"  # every wanted instance runs the current revision and is ready
    DEGRADED = "degraded"  # fewer ready instances than wanted, outside a rollout
    FAILED = "failed"  # the rollout cannot make progress; the message says why
    DELETING = "deleting"  # the service was deleted; instances are being removed
    UNAVAILABLE = "unavailable"  # the runtime does not answer


class Health(enum.StrEnum):
    PENDING = "pending"  # created, not yet running
    STARTING = "starting"  # running, health check not yet passed
    READY = "ready"
    UNHEALTHY = "unhealthy"  # was ready or never became so; failing its check
    CRASHED = "crashed"  # exited; waiting for its restart back-off
    DRAINING = "draining"  # out of service, still running: stopped once its drain period ends
    STOPPING = "stopping"


@dataclass(frozen=True)
class EnvKey:
    """What controllers are keyed by: one service in one environment."""

    service_id: int
    env: Environment

    def __str__(self) -> str:
        return f"{self.service_id}/{self.env.value}"


@dataclass(frozen=True)
class InstanceRecord:
    """The controller's persisted view of one instance, carried from pass to pass."""

    id: str
    revision: int
    template_hash: str
    runtime_id: str
    state: str
    health: Health
    health_failures: int = 0
    restarts: int = 0
    exit_code: int | None = None
    last_log: str = ""
    ip: str | None = None
    started_at: datetime | None = None
    ready_at: datetime | None = None
    next_restart_at: datetime | None = None
    drain_until: datetime | None = None
    """When a draining instance is stopped."""


@dataclass(frozen=True)
class EnvStatus:
    phase: EnvPhase
    message: str
    revision: int | None
    desired: int
    ready: int
    updated: int  # instances running the current template
