"""Read models the store hands upward: plain frozen dataclasses (and one named tuple), never ORM
rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

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


class ServiceStamp(NamedTuple):
    """One version of one stored service: equal stamps stand for equal ServiceViews, so what
    is derived from a view may be kept under its stamp.

    Every change to a service row bumps its version; `created` (with the name) tells a purged
    service from a new one that got its id back (SQLite reuses the highest row id). A named
    tuple, not a dataclass: pages build a hundred of them per request, at a third of the cost.
    """

    id: int
    name: str
    version: int
    created: str
    """The creation time as the database spells it: compared, never read."""


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
    template_hash: str
    """As stored with the revision (not re-hashed on read): instances carry this one."""


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
class ReleaseRef:
    """A release known by its number only: summaries do not load templates."""

    number: int


@dataclass(frozen=True)
class EnvSummaryView:
    """One environment of a service as the start page shows it: phase, counts, revision."""

    env: Environment
    current: ReleaseRef | None
    status: EnvStatusView


@dataclass(frozen=True)
class ServiceSummaryView:
    name: str
    envs: tuple[EnvSummaryView, ...]  # test, sandbox, online, stable


@dataclass(frozen=True)
class EnvironmentView:
    """One environment of one service: what is wanted, and what the controller last saw."""

    env: Environment
    current: ReleaseView | None
    status: EnvStatusView
    instances: tuple[InstanceView, ...]


@dataclass(frozen=True)
class EnvStateView:
    """One environment of one service without its release's template: phase, counts, the
    current revision's number, instances."""

    env: Environment
    current: ReleaseRef | None
    status: EnvStatusView
    instances: tuple[InstanceView, ...]


@dataclass(frozen=True)
class ServiceStateView:
    """The stamp of a service and its four environments (test, sandbox, online, stable)."""

    stamp: ServiceStamp
    envs: tuple[EnvStateView, ...]
