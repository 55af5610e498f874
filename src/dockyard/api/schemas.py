"""JSON shapes of docs/api.md: request bodies (Create / Update, strict, unknown fields refused)
and answers (Public), with the conversions to and from domain objects.

Bodies check shape (types, unknown fields) and bounds (api.bounds: every number and string has
a range the OpenAPI document states). Exact rules (an image reference, a name's characters, a
health check's combination) are the domain's to judge: a bad value raises Invalid naming its
field, which becomes 422 too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from dockyard.api.bounds import (
    LINE,
    LIST_MAX,
    Description,
    EnvName,
    Line,
    Name,
    Number,
    Short,
    Value,
)
from dockyard.domain.environment import Environment
from dockyard.domain.logfiles import (
    MAX_LOG_PATH_CHARS,
    MAX_LOG_PATHS,
    MAX_MULTILINE_CHARS,
    MAX_RECORD_BYTES,
    MAX_WAIT_S,
    LogMultiline,
)
from dockyard.domain.lograte import MAX_LOG_BURST, MAX_LOG_RATE
from dockyard.domain.readiness import readiness
from dockyard.domain.spec import (
    MAX_BANDWIDTH_MBIT,
    MAX_CPUS,
    MAX_DRAIN_S,
    MAX_ENV_VARS,
    MAX_MEMORY_MB,
    MAX_PIDS,
    MAX_PORTS,
    MAX_REPLICAS,
    MIN_MEMORY_MB,
    RESOURCE_FIELDS,
    HealthCheck,
    Port,
    Resources,
    ServiceSpec,
    Strategy,
    check_ports_distinct,
)
from dockyard.logs.archive import rfc3339
from dockyard.logs.index.base import Hit
from dockyard.store.origins import Origin
from dockyard.store.views import (
    EnvironmentView,
    EventView,
    ReleaseView,
    ServiceView,
    TeamView,
    TokenView,
)

MAX_TOKEN_DAYS = 36500

Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
Args = Annotated[list[Value], Field(max_length=LIST_MAX)]
EnvVars = Annotated[dict[EnvName, Value], Field(max_length=MAX_ENV_VARS)]
Mbit = Annotated[int, Field(ge=1, le=MAX_BANDWIDTH_MBIT)]
PortNumber = Annotated[int, Field(ge=1, le=65535)]


def _seconds(low: float, high: float) -> Any:
    return Field(ge=low, le=high, allow_inf_nan=False)


class _Body(BaseModel):
    """A request body: exact types (no "3" for 3), unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    """An answer, built from store views that are already valid."""

    model_config = ConfigDict(from_attributes=True)


# ---- service fields (the container template); defaults come from the domain ----


class PortFields(_Body):
    container_port: PortNumber
    protocol: Literal["tcp", "udp"] = Port.protocol
    name: Annotated[str, Field(max_length=63, pattern=LINE)] = Port.name


_DEFAULTED = "Per instance; null (or left out) in a template: the environment's default."


class ResourcesFields(_Body):
    """Per-instance limits. In a service's template a limit left out or null follows the
    environment's default (`GET /environments`); in a revision every limit has its value."""

    cpus: Annotated[float, _seconds(0.01, MAX_CPUS)] | None = Field(
        default=None, description="CPU cores. " + _DEFAULTED
    )
    memory_mb: Annotated[int, Field(ge=MIN_MEMORY_MB, le=MAX_MEMORY_MB)] | None = Field(
        default=None, description="Memory in MiB. " + _DEFAULTED
    )
    pids: Annotated[int, Field(ge=16, le=MAX_PIDS)] | None = Field(
        default=None, description="Processes (and threads). " + _DEFAULTED
    )

    @classmethod
    def of(cls, resources: Resources, own: Sequence[str]) -> ResourcesFields:
        """`resources` with the limits not in `own` as null."""
        return cls.model_construct(
            **{name: getattr(resources, name) if name in own else None for name in RESOURCE_FIELDS}
        )


LimitSource = Literal["service", "environment"]


class ResourceSources(_Out):
    """Where each limit of a revision came from: the service's template, or the environment's
    default when the revision was made."""

    cpus: LimitSource
    memory_mb: LimitSource
    pids: LimitSource

    @classmethod
    def of(cls, spec: ServiceSpec) -> ResourceSources:
        return cls.model_validate(
            {
                name: "service" if name in spec.resources_own else "environment"
                for name in RESOURCE_FIELDS
            }
        )


class HealthCheckFields(_Body):
    http_path: Line | None = None
    command: Args = Field(default_factory=list)
    port: PortNumber | None = None
    interval_s: Annotated[float, _seconds(0.1, 300)] = HealthCheck.interval_s
    timeout_s: Annotated[float, _seconds(0.1, 60)] = HealthCheck.timeout_s
    retries: Annotated[int, Field(ge=1, le=100)] = HealthCheck.retries
    start_period_s: Annotated[float, _seconds(0, 3600)] = HealthCheck.start_period_s


class StrategyFields(_Body):
    max_surge: Replicas = Strategy.max_surge
    max_unavailable: Replicas = Strategy.max_unavailable


class BandwidthFields(_Body):
    """Per-instance limits in Mbit/s; null (or left out) is unlimited. Applied live by the
    host agent: a deploy that changes only these never restarts an instance."""

    egress_mbit: Mbit | None = Field(
        default=None, description="What each instance may send (traffic from it)."
    )
    ingress_mbit: Mbit | None = Field(
        default=None, description="What each instance may receive (traffic to it)."
    )


LogPath = Annotated[str, Field(min_length=1, max_length=MAX_LOG_PATH_CHARS, pattern=LINE)]
LogPaths = Annotated[
    list[LogPath],
    Field(
        max_length=MAX_LOG_PATHS,
        description="Declared log files inside the container (absolute; only the file name may "
        "be a glob, e.g. /app/logs/*.log): Dockyard mounts a per-instance directory at each "
        "path's directory and collects the files, following rotation by rename or copy-truncate.",
    ),
]


class LogMultilineFields(_Body):
    """Joins multi-line records (a stack trace) in the declared files and the console."""

    start: Annotated[str, Field(min_length=1, max_length=MAX_MULTILINE_CHARS, pattern=LINE)] = (
        Field(description="A regex matching (at its start) the first line of a record.")
    )
    max_bytes: Annotated[int, Field(ge=1024, le=MAX_RECORD_BYTES)] = LogMultiline.max_bytes
    max_wait_s: Annotated[float, _seconds(0.01, MAX_WAIT_S)] = LogMultiline.max_wait_s


class LogRateFields(_Body):
    """The flood budget of the service's logs on each host; lines over it are dropped, counted
    and shown as one marker line. Without it the platform's default applies."""

    lines_per_s: Annotated[int, Field(ge=1, le=MAX_LOG_RATE)] = Field(
        description="Lines per second, on average, of all the service's instances on one host."
    )
    burst: Annotated[int, Field(ge=0, le=MAX_LOG_BURST)] = Field(
        default=0, description="Lines at once above the rate; 0: five seconds' worth."
    )


PublishField = Annotated[
    Literal["private", "all"] | Annotated[list[Name], Field(min_length=1, max_length=100)],
    Field(
        description="Which other teams see the service's endpoints: 'private' (its own team "
        "only), 'all', or a list of team names.",
    ),
]


class ServiceFields(_Body):
    """Every field of a service's template; only `image` is required."""

    image: Line
    command: Args = Field(default_factory=list)
    args: Args = Field(default_factory=list)
    ports: Annotated[list[PortFields], Field(max_length=MAX_PORTS)] = Field(default_factory=list)
    env: EnvVars = Field(default_factory=dict)
    resources: ResourcesFields = Field(default_factory=ResourcesFields)
    health_check: HealthCheckFields | None = None
    stop_grace_s: Annotated[float, _seconds(0, 600)] = ServiceSpec.stop_grace_s
    drain_s: Annotated[float, _seconds(0, MAX_DRAIN_S)] = Field(
        default=ServiceSpec.drain_s,
        description="Seconds an instance about to be stopped is first out of service "
        "(draining) so requests in flight finish; 0 stops it at once.",
    )
    capabilities: Annotated[list[Short], Field(max_length=32)] = Field(default_factory=list)
    strategy: StrategyFields = Field(default_factory=StrategyFields)
    bandwidth: BandwidthFields = Field(default_factory=BandwidthFields)
    log_paths: LogPaths = Field(default_factory=list)
    log_multiline: LogMultilineFields | None = None
    publish: PublishField = "private"
    log_rate: LogRateFields | None = None

    @classmethod
    def of(cls, spec: ServiceSpec, *, template: bool = False) -> ServiceFields:
        """The fields of `spec`; of a `template`, the limits it leaves to its environment's
        default are null."""
        # Read the dataclasses' attributes directly (lax: tuples become lists): listing pages of
        # services spends most of its time here, and `to_json` (asdict) is several times slower.
        data = {name: getattr(spec, name) for name in cls.model_fields}
        data["env"] = dict(spec.env)
        if template:
            data["resources"] = ResourcesFields.of(spec.resources, spec.resources_own)
        return cls.model_validate(data, strict=False, from_attributes=True)


class ServiceCreate(ServiceFields):
    name: Name

    def to_spec(self) -> ServiceSpec:
        """The domain spec; Invalid (naming the field) if a value is out of bounds."""
        spec = ServiceSpec.from_json(self.model_dump(exclude={"name"}))
        check_ports_distinct(spec.ports)
        return spec


class ServiceUpdate(_Body):
    """Fields to change; the others keep their value. Nested objects are replaced whole
    (a limit left out of `resources` then follows the environment's default), and
    `"health_check": null` removes the health check, `"log_multiline": null` the multi-line
    rule, `"log_rate": null` the service's own flood budget."""

    image: Line | None = None
    command: Args | None = None
    args: Args | None = None
    ports: Annotated[list[PortFields], Field(max_length=MAX_PORTS)] | None = None
    env: EnvVars | None = None
    resources: ResourcesFields | None = None
    health_check: HealthCheckFields | None = None
    stop_grace_s: Annotated[float, _seconds(0, 600)] | None = None
    drain_s: Annotated[float, _seconds(0, MAX_DRAIN_S)] | None = None
    capabilities: Annotated[list[Short], Field(max_length=32)] | None = None
    strategy: StrategyFields | None = None
    bandwidth: BandwidthFields | None = None
    log_paths: LogPaths | None = None
    log_multiline: LogMultilineFields | None = None
    publish: PublishField | None = None
    log_rate: LogRateFields | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_for_health_check(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in ("health_check", "log_multiline", "log_rate"):
            raise PydanticCustomError(
                "null_forbidden", "cannot be null; leave the field out to keep its current value"
            )
        return value

    def apply_to(self, current: ServiceSpec) -> ServiceSpec:
        """`current` with the given fields replaced; Invalid if the result is not a valid spec."""
        given = self.model_dump(include=self.model_fields_set)
        known = current.to_json()
        if "resources" in given:  # the limits it gives (not null) become the service's own
            del known["resources_own"]
        spec = ServiceSpec.from_json({**known, **given})
        if "ports" in given:
            check_ports_distinct(spec.ports)
        return spec


# ---- other bodies ----


class TeamCreate(_Body):
    name: Name
    description: Description = ""


class TokenCreate(_Body):
    name: Annotated[str, Field(min_length=1, max_length=60, pattern=LINE)]
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)


class DeployRequest(_Body):
    image: Line | None = None
    replicas: Replicas | None = None
    env: EnvVars | None = None
    expected_revision: Number | None = None


class ScaleRequest(_Body):
    replicas: Replicas
    expected_revision: Number | None = None


class RollbackRequest(_Body):
    to: Number | None = None
    expected_revision: Number | None = None


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


class ReadinessPublic(_Out):
    """The check an instance passes before it gets traffic (domain/readiness.py)."""

    kind: Literal["http", "command", "tcp", "running"] = Field(
        description="`tcp`: the default when no health check is given and the service has a "
        "TCP port; `running`: no check at all, ready once running."
    )
    port: int | None
    given: bool = Field(description="False: a default, not a health check the service gave.")
    text: str

    @classmethod
    def of(cls, spec: ServiceSpec) -> ReadinessPublic:
        return cls.model_validate(readiness(spec).to_json())


class ServicePublic(_Out):
    team: str
    name: str
    spec: ServiceFields
    effective_health: ReadinessPublic
    created_at: datetime
    updated_at: datetime
    deleting: bool

    @classmethod
    def of(cls, view: ServiceView) -> ServicePublic:
        return cls(
            team=view.team,
            name=view.name,
            spec=ServiceFields.of(view.spec, template=True),
            effective_health=ReadinessPublic.of(view.spec),
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
    effective_health: ReadinessPublic
    resources_from: ResourceSources = Field(
        description="Where each of `spec.resources` came from: the service's own limit, or "
        "the environment's default when this revision was made."
    )

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
            effective_health=ReadinessPublic.of(view.spec),
            resources_from=ResourceSources.of(view.spec),
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


class BandwidthLimits(_Out):
    """The limits in force, and the platform whose instances they are for."""

    items: list[BandwidthLimitPublic]
    platform: str = Field(
        description="This platform's id (label io.dockyard.platform): an agent shapes only "
        "containers carrying it, never another Dockyard's on the same engine."
    )
    adopts_unlabelled: bool = Field(
        description="Whether containers with no platform label (made before it existed) are "
        "this platform's too."
    )


# ---- logs ----


class LogLinePublic(_Out):
    time: str = Field(description="When it was written: RFC 3339, UTC, nanoseconds.")
    time_ns: int
    instance: str
    channel: str = Field(description="console (stdout and stderr) or a declared file's path.")
    stream: str = Field(description="stdout, stderr, or the declared file's path.")
    seq: int = Field(description="The line's number in its instance's channel, from 1.")
    level: str = Field(description="fatal, error, warn, info, debug, trace, or empty.")
    text: str

    @classmethod
    def of(cls, hit: Hit) -> LogLinePublic:
        return cls(
            time=rfc3339(hit.time_ns),
            time_ns=hit.time_ns,
            instance=hit.instance,
            channel=hit.channel,
            stream=hit.stream,
            seq=hit.seq,
            level=hit.level,
            text=hit.text,
        )


class LogOriginPublic(_Out):
    """Where an instance's lines came from: its revision, that revision's image, the commit."""

    env: str
    revision: int = Field(description="The revision the instance runs.")
    image: str = Field(description="The image reference that revision runs.")
    digest: str | None
    commit: str | None = Field(description="The commit the image was built from, if known.")

    @classmethod
    def of(cls, origin: Origin) -> LogOriginPublic:
        return cls(
            env=origin.env, revision=origin.revision, image=origin.image, digest=origin.digest,
            commit=origin.commit,
        )  # fmt: skip


class LogPage(_Out):
    items: list[LogLinePublic]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
    instances: dict[str, LogOriginPublic] = Field(
        default_factory=dict,
        description="The origin of each instance of the page's lines, by instance id (those "
        "whose instance is still known: a removed instance's lines have none).",
    )


class LogContext(_Out):
    at: int = Field(description="The number of the line asked about.")
    items: list[LogLinePublic]
