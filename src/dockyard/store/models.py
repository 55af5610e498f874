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
