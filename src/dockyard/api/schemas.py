"""JSON shapes of docs/api.md: request bodies (Create / Update, strict, unknown fields refused)
and answers (Public), with the conversions to and from domain objects.

Bodies check shape only (types, unknown fields). Values (replicas, memory floor, image refs...)
are the domain's to judge: a bad one raises Invalid naming its field, which becomes 422 too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from dockyard.domain.environment import Environment
from dockyard.domain.spec import HealthCheck, Port, Resources, ServiceSpec, Strategy
from dockyard.store.views import (
    EnvironmentView,
    EventView,
    ReleaseView,
    ServiceView,
    TeamView,
    TokenView,
)

MAX_TOKEN_DAYS = 36500


class _Body(BaseModel):
    """A request body: exact types (no "3" for 3), unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    """An answer, built from store views that are already valid."""

    model_config = ConfigDict(from_attributes=True)


# ---- service fields (the container template); defaults come from the domain ----


class PortFields(_Body):
    container_port: int
    protocol: Literal["tcp", "udp"] = Port.protocol
    name: str = Port.name


class ResourcesFields(_Body):
    cpus: float = Resources.cpus
    memory_mb: int = Resources.memory_mb
    pids: int = Resources.pids


class HealthCheckFields(_Body):
    http_path: str | None = None
    command: list[str] = Field(default_factory=list)
    port: int | None = None
    interval_s: float = HealthCheck.interval_s
    timeout_s: float = HealthCheck.timeout_s
    retries: int = HealthCheck.retries
    start_period_s: float = HealthCheck.start_period_s


class StrategyFields(_Body):
    max_surge: int = Strategy.max_surge
    max_unavailable: int = Strategy.max_unavailable


class BandwidthFields(_Body):
    """Per-instance limits in Mbit/s; null (or left out) is unlimited. Applied live by the
    host agent: a deploy that changes only these never restarts an instance."""

    egress_mbit: int | None = Field(
        default=None, description="What each instance may send (traffic from it)."
    )
    ingress_mbit: int | None = Field(
        default=None, description="What each instance may receive (traffic to it)."
    )


class ServiceFields(_Body):
    """Every field of a service's template; only `image` is required."""

    image: str
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    ports: list[PortFields] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    resources: ResourcesFields = Field(default_factory=ResourcesFields)
    health_check: HealthCheckFields | None = None
    stop_grace_s: float = ServiceSpec.stop_grace_s
    capabilities: list[str] = Field(default_factory=list)
    strategy: StrategyFields = Field(default_factory=StrategyFields)
    bandwidth: BandwidthFields = Field(default_factory=BandwidthFields)

    @classmethod
    def of(cls, spec: ServiceSpec) -> ServiceFields:
        # Read the dataclasses' attributes directly (lax: tuples become lists): listing pages of
        # services spends most of its time here, and `to_json` (asdict) is several times slower.
        data = {name: getattr(spec, name) for name in cls.model_fields}
        data["env"] = dict(spec.env)
        return cls.model_validate(data, strict=False, from_attributes=True)


class ServiceCreate(ServiceFields):
    name: str

    def to_spec(self) -> ServiceSpec:
        """The domain spec; Invalid (naming the field) if a value is out of bounds."""
        return ServiceSpec.from_json(self.model_dump(exclude={"name"}))


class ServiceUpdate(_Body):
    """Fields to change; the others keep their value. Nested objects are replaced whole,
    and `"health_check": null` removes the health check."""

    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    ports: list[PortFields] | None = None
    env: dict[str, str] | None = None
    resources: ResourcesFields | None = None
    health_check: HealthCheckFields | None = None
    stop_grace_s: float | None = None
    capabilities: list[str] | None = None
    strategy: StrategyFields | None = None
    bandwidth: BandwidthFields | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_for_health_check(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name != "health_check":
            raise PydanticCustomError(
                "null_forbidden", "cannot be null; leave the field out to keep its current value"
            )
        return value

    def apply_to(self, current: ServiceSpec) -> ServiceSpec:
        """`current` with the given fields replaced; Invalid if the result is not a valid spec."""
        given = self.model_dump(include=self.model_fields_set)
        return ServiceSpec.from_json({**current.to_json(), **given})


# ---- other bodies ----


class TeamCreate(_Body):
    name: str
    description: str = ""


class TokenCreate(_Body):
    name: str
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)


class DeployRequest(_Body):
    image: str | None = None
    replicas: int | None = None
    env: dict[str, str] | None = None
    expected_revision: int | None = None


class ScaleRequest(_Body):
    replicas: int
    expected_revision: int | None = None


class RollbackRequest(_Body):
    to: int | None = None
    expected_revision: int | None = None


# ---- answers ----

T = TypeVar("T")


class Items(_Out, Generic[T]):
    items: list[T]


class ErrorBody(_Out):
    error: str
    message: str
    field: str | None


class WhoAmI(_Out):
    name: str
    team: str | None
    admin: bool


class TeamPublic(_Out):
    name: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, view: TeamView) -> TeamPublic:
        return cls.model_validate(view)


class TokenPublic(_Out):
    id: str
    name: str
    team: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: TokenView) -> TokenPublic:
        return cls.model_validate(view)


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown this once; store it now.")

    @classmethod
    def of_new(cls, view: TokenView, secret: str) -> TokenCreated:
        return cls(**TokenPublic.of(view).model_dump(), token=secret)


class ServicePublic(_Out):
    team: str
    name: str
    spec: ServiceFields
    created_at: datetime
    updated_at: datetime
    deleting: bool

    @classmethod
    def of(cls, view: ServiceView) -> ServicePublic:
        return cls(
            team=view.team,
            name=view.name,
            spec=ServiceFields.of(view.spec),
            created_at=view.created_at,
            updated_at=view.updated_at,
            deleting=view.deleting,
        )


class ServicePage(_Out):
    items: list[ServicePublic]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class ReleasePublic(_Out):
    team: str
    service: str
    env: Environment
    number: int
    image: str
    replicas: int
    cause: str
    created_by: str
    created_at: datetime
    template_hash: str
    spec: ServiceFields

    @classmethod
    def of(cls, view: ReleaseView) -> ReleasePublic:
        return cls(
            team=view.team,
            service=view.service,
            env=view.env,
            number=view.number,
            image=view.spec.image,
            replicas=view.replicas,
            cause=view.cause,
            created_by=view.created_by,
            created_at=view.created_at,
            template_hash=view.template_hash,
            spec=ServiceFields.of(view.spec),
        )


class EnvStatusPublic(_Out):
    phase: str
    message: str
    revision: int | None
    desired: int
    ready: int
    updated: int
    updated_at: datetime | None


class InstancePublic(_Out):
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


class EnvironmentPublic(_Out):
    env: Environment
    current: ReleasePublic | None
    status: EnvStatusPublic
    instances: list[InstancePublic]

    @classmethod
    def of(cls, view: EnvironmentView) -> EnvironmentPublic:
        return cls(
            env=view.env,
            current=ReleasePublic.of(view.current) if view.current else None,
            status=EnvStatusPublic.model_validate(view.status),
            instances=[InstancePublic.model_validate(i) for i in view.instances],
        )


class ServiceDetail(ServicePublic):
    environments: list[EnvironmentPublic]

    @classmethod
    def of_service(cls, view: ServiceView, envs: list[EnvironmentView]) -> ServiceDetail:
        return cls(
            **dict(ServicePublic.of(view)),
            environments=[EnvironmentPublic.of(env) for env in envs],
        )


class EventPublic(_Out):
    id: int
    env: Environment
    at: datetime
    kind: str
    message: str

    @classmethod
    def of(cls, view: EventView) -> EventPublic:
        return cls.model_validate(view)


class BandwidthLimitPublic(_Out):
    """The limits in force for one service in one environment: its current revision's."""

    team: str
    service: str
    env: Environment
    revision: int
    egress_mbit: int | None
    ingress_mbit: int | None
