"""Tables. Desired state (teams, services, releases) is written by the API; status tables
(`env_status`, `instances`, `events`) are written only by the controllers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and read back as UTC, on every engine.

    SQLite keeps no zone (it would store 19:00+07:00 as 19:00), so times are converted to UTC
    before they are written and tagged UTC on read; PostgreSQL answers in the session's
    TimeZone, which need not be UTC, so its answers are converted too.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: Dockyard stores UTC times only")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class PlatformRow(Base):
    """This installation, one row made by migration 0006: its id labels every container it
    makes, so several installations can share one Docker engine (store/platform.py)."""

    __tablename__ = "platform"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    adopts_unlabelled: Mapped[bool]
    """True if the database had services when the row was made: containers without a
    platform label (made before it existed) are then this installation's too."""
    created_at: Mapped[datetime]


class EnvironmentDefaultsRow(Base):
    """The limits every instance of one environment gets for what its service leaves unset,
    set by the platform team (store/env_defaults.py). Migration 0007 makes the four rows."""

    __tablename__ = "environment_defaults"
    env: Mapped[str] = mapped_column(String(10), primary_key=True)
    cpus: Mapped[float]
    memory_mb: Mapped[int]
    pids: Mapped[int]
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class TeamRow(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ServiceRow(Base):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("team_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set by delete: controllers scale every environment to zero, then purge the row.
    deleted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class EnvironmentRow(Base):
    """The desired state of one service in one environment: its current revision."""

    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("service_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(10))
    current_revision: Mapped[int | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ReleaseRow(Base):
    """One numbered revision: full template + replicas. Immutable once written."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("service_id", "env", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    number: Mapped[int]
    spec: Mapped[dict[str, Any]]
    template_hash: Mapped[str] = mapped_column(String(16))
    replicas: Mapped[int]
    cause: Mapped[str] = mapped_column(Text)  # "deploy <image>": an image may be 255 long
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class EnvStatusRow(Base):
    """What the controller last saw and did for one (service, environment)."""

    __tablename__ = "env_status"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    env: Mapped[str] = mapped_column(String(10), primary_key=True)
    phase: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int | None]
    desired: Mapped[int] = mapped_column(default=0)
    ready: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    rollout_started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    # Since when `revision` has been available without a break (promotion gates' soak time);
    # None while it is not available. Added by the image center (migration 0003).
    available_since: Mapped[datetime | None]


class InstanceRow(Base):
    """Controller-owned status of one instance; rebuilt from the runtime if lost."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_service_env", "service_id", "env"),)
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    revision: Mapped[int]
    template_hash: Mapped[str] = mapped_column(String(16))
    runtime_id: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    health: Mapped[str] = mapped_column(String(20))
    health_failures: Mapped[int] = mapped_column(default=0)
    restarts: Mapped[int] = mapped_column(default=0)
    exit_code: Mapped[int | None]
    last_log: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    started_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    next_restart_at: Mapped[datetime | None]
    drain_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class EventRow(Base):
    """A line in a service's story: deploys, scale, rollbacks, failures, replacements."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_service_env", "service_id", "env", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)


# -- network: segments and fixed addresses (issue 4; IPAM's live state is in etcd) -------------


class SegmentRow(Base):
    """A network segment the platform admin manages; IPAM hands addresses out of it."""

    __tablename__ = "segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(12), unique=True)
    cidr: Mapped[str] = mapped_column(String(18))
    gateway: Mapped[str] = mapped_column(String(15))
    vlan: Mapped[int | None]
    environments: Mapped[list[str]] = mapped_column(JSON)
    reserved: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class FixedAddressRow(Base):
    """An address a service keeps for itself in one environment (firewall allow-lists)."""

    __tablename__ = "fixed_addresses"
    __table_args__ = (Index("ix_fixed_addresses_service_env", "service_id", "env"),)
    address: Mapped[str] = mapped_column(String(15), primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]


# -- image center: sources, builds, images, promotion (issue 3) --------------------------------


class ServiceSourceRow(Base):
    """Where a service's images are built from: a git repository, branch and Dockerfile."""

    __tablename__ = "service_sources"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    repo_url: Mapped[str] = mapped_column(String(1024))
    branch: Mapped[str] = mapped_column(String(255))
    dockerfile: Mapped[str] = mapped_column(String(255))
    context: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime]
    trusted: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Set by the admin: a file:// path outside the source roots is allowed (images.sources)."""


class PromotionPolicyRow(Base):
    """How a service's digests move between environments: gates, and what `stable` follows."""

    __tablename__ = "promotion_policies"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    soak_s: Mapped[float]
    online_approval: Mapped[bool]
    stable_follows: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime]


class EnvOverrideRow(Base):
    """One environment's own config, applied when an image is released there."""

    __tablename__ = "env_overrides"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    env: Mapped[str] = mapped_column(String(10), primary_key=True)
    replicas: Mapped[int | None]
    env_vars: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ImageRow(Base):
    """An image built from one commit and pushed: known by its digest, immutable."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("service_id", "digest"),
        Index("ix_images_service_commit", "service_id", "commit"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(71))
    tag: Mapped[str] = mapped_column(String(128))
    commit: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    committed_at: Mapped[datetime | None]
    size_bytes: Mapped[int]
    build_number: Mapped[int]  # the build that first pushed it, and how long that build took
    duration_s: Mapped[float]
    created_at: Mapped[datetime]
    # Set when retention deleted it from the registry; the row stays for provenance.
    deleted_at: Mapped[datetime | None]


class BuildRow(Base):
    """A request to build a ref of a service's source, and what became of it."""

    __tablename__ = "builds"
    __table_args__ = (
        UniqueConstraint("service_id", "number"),
        Index("ix_builds_state", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    number: Mapped[int]
    ref: Mapped[str] = mapped_column(String(255))
    force: Mapped[bool]
    deploy_to: Mapped[str | None] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text, default="")
    commit: Mapped[str | None] = mapped_column(String(40))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"))
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(120))
    log_size: Mapped[int] = mapped_column(default=0)


class BuildLogRow(Base):
    """A piece of a build's log, in order; `start` is its offset in the whole log."""

    __tablename__ = "build_logs"
    build_id: Mapped[int] = mapped_column(
        ForeignKey("builds.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    start: Mapped[int]
    text: Mapped[str] = mapped_column(Text)


class ApprovalRow(Base):
    """A team member's approval of one digest for one environment."""

    __tablename__ = "promotion_approvals"
    __table_args__ = (UniqueConstraint("service_id", "env", "digest", "approved_by"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    digest: Mapped[str] = mapped_column(String(71))
    approved_by: Mapped[str] = mapped_column(String(120))
    approved_at: Mapped[datetime]


class DrainRow(Base):
    """A team's log drain (domain/drain.py). The spec columns are desired state written by the
    API; the `delivered` ... `state_at` columns are its delivery state, written only by the
    drainer (logs/drainer.py), one row per drain, so the API reads both in one query."""

    __tablename__ = "drains"
    __table_args__ = (UniqueConstraint("team_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(1024))
    filters: Mapped[dict[str, Any]]
    """{"services": [...], "envs": [...]}: an empty list means all."""
    headers: Mapped[dict[str, Any]]
    """Name -> value; values may be secrets and are never shown back."""
    ca_file: Mapped[str | None] = mapped_column(String(1024))
    verify: Mapped[bool]
    created_at: Mapped[datetime]
    delivered: Mapped[int] = mapped_column(default=0)
    lost: Mapped[int] = mapped_column(default=0)
    pending: Mapped[int] = mapped_column(default=0)
    oldest_undelivered: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    state_at: Mapped[datetime | None]


# -- autoscaling (issue 13) ---------------------------------------------------------------------


class AutoscalingRow(Base):
    """One environment's autoscaling policy (desired state, written by the API) and what the
    autoscaler last said of it (`status`, written by the autoscaler only)."""

    __tablename__ = "autoscaling"
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    env: Mapped[str] = mapped_column(String(10), primary_key=True)
    policy: Mapped[dict[str, Any]]
    """domain.autoscaling.Policy.to_json()."""
    paused: Mapped[str | None] = mapped_column(Text)
    """Why it is paused (by whom, for what); None: it acts."""
    paused_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(Text, default="")
    status_at: Mapped[datetime | None]
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class AutoscaleDecisionRow(Base):
    """One scaling decision: the event that tells it, the revision it made, and the very
    figure it used (so it can be charted beside the utilisation)."""

    __tablename__ = "autoscale_decisions"
    __table_args__ = (Index("ix_autoscale_decisions_service_env", "service_id", "env", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    env: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    event_id: Mapped[int | None]
    revision: Mapped[int]
    metric: Mapped[str] = mapped_column(String(10))
    figure: Mapped[float]
    """Per cent of the target."""
    target_percent: Mapped[float]
    from_replicas: Mapped[int]
    to_replicas: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)


# -- alarms: rules, their history, the teams' receivers (issue 13) ------------------------------


class AlarmRuleRow(Base):
    """A team's alarm rule on one service (domain/alarm.py AlarmRuleSpec), named uniquely
    within the service; `spec` holds the rest of it as JSON."""

    __tablename__ = "alarm_rules"
    __table_args__ = (UniqueConstraint("service_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    env: Mapped[str] = mapped_column(String(10))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlarmRow(Base):
    """One firing of an alert as Alertmanager told the server of it: one row per fingerprint
    and start, updated as it resolves, is acknowledged or silenced. Team, service and env are
    names, not keys: host alarms have none, and history outlives a removed service."""

    __tablename__ = "alarms"
    __table_args__ = (
        UniqueConstraint("fingerprint", "starts_at"),
        Index("ix_alarms_team_state", "team", "state", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    alertname: Mapped[str] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    env: Mapped[str | None] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, Any]]
    ends_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    acked_by: Mapped[str | None] = mapped_column(String(120))
    acked_at: Mapped[datetime | None]
    silence_id: Mapped[str | None] = mapped_column(String(64))
    silenced_until: Mapped[datetime | None]


class AlarmReceiverRow(Base):
    """Where a team's alarms are sent, and how sending last went (written by the server after
    each delivery)."""

    __tablename__ = "alarm_receivers"
    __table_args__ = (UniqueConstraint("team_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))
    target: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime]
    delivered: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
