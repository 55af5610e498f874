"""Read models the store hands upward: plain frozen dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dockyard.domain.environment import Environment
from dockyard.domain.spec import ServiceSpec


@dataclass(frozen=True)
class TeamView:
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class TokenView:
    id: str
    name: str
    team: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ServiceView:
    team: str
    name: str
    spec: ServiceSpec
    created_at: datetime
    updated_at: datetime
    deleting: bool


@dataclass(frozen=True)
class ReleaseView:
    team: str
    service: str
    env: Environment
    number: int
    spec: ServiceSpec
    replicas: int
    cause: str
    created_by: str
    created_at: datetime

    @property
    def template_hash(self) -> str:
        return self.spec.template_hash


@dataclass(frozen=True)
class EnvStatusView:
    phase: str
    message: str
    revision: int | None
    desired: int
    ready: int
    updated: int
    updated_at: datetime | None


@dataclass(frozen=True)
class InstanceView:
    id: str
    env: Environment
    revision: int
    state: str
    health: str
    restarts: int
    exit_code: int | None
    last_log: str
    ip: str | None
    started_at: datetime | None
    ready_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class EventView:
    id: int
    env: Environment
    at: datetime
    kind: str
    message: str


@dataclass(frozen=True)
class EnvironmentView:
    """One environment of one service: what is wanted, and what the controller last saw."""

    env: Environment
    current: ReleaseView | None
    status: EnvStatusView
    instances: tuple[InstanceView, ...]
