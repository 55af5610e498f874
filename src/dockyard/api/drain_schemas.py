"""JSON shapes of the log drain routes: the body that adds a drain and the answer that shows
one. Header values (tokens) go in and are never shown back: answers name the headers only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dockyard.api.bounds import LINE, LINE_MAX, Line, Name, Value
from dockyard.domain.drain import MAX_HEADERS, Drain, DrainKind, DrainSpec
from dockyard.domain.environment import Environment


class DrainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    kind: DrainKind = Field(strict=False, description="syslog, http or otlp")
    url: Annotated[str, Field(min_length=1, max_length=LINE_MAX, pattern=LINE)] = Field(
        description="syslog://HOST:PORT, syslog+tls://HOST:PORT, or an http(s):// URL "
        "(otlp: the collector's base URL or its /v1/logs)"
    )
    services: list[Name] = Field(default=[], max_length=64, description="Empty: all services")
    envs: list[Annotated[Environment, Field(strict=False)]] = Field(
        default=[], max_length=4, description="Empty: all environments"
    )
    headers: dict[Name, Value] = Field(
        default={}, max_length=MAX_HEADERS, description="Sent with each POST; never shown back"
    )
    ca_file: Line | None = Field(default=None, description="TLS: CA bundle on the drainer's host")
    verify: bool = Field(default=True, description="TLS: check the destination's certificate")

    def to_spec(self, team: str) -> DrainSpec:
        return DrainSpec(
            team=team,
            name=self.name,
            kind=self.kind,
            url=self.url,
            services=tuple(self.services),
            envs=tuple(self.envs),
            headers=tuple(self.headers.items()),
            ca_file=self.ca_file,
            verify=self.verify,
        )


class DrainStatePublic(BaseModel):
    delivered: int = Field(description="Lines the destination accepted")
    lost: int = Field(description="Lines dropped by the stream's size limit before delivery")
    pending: int = Field(description="Stream batches not yet delivered")
    oldest_undelivered: datetime | None = Field(description="Write time of the oldest waiting line")
    lag_s: float | None = Field(description="Seconds the oldest waiting line has waited")
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    updated_at: datetime | None = Field(description="When the drainer last wrote this state")


class DrainPublic(BaseModel):
    team: str
    name: str
    kind: DrainKind
    url: str
    services: list[str]
    envs: list[Environment]
    header_names: list[str]
    ca_file: str | None
    verify: bool
    subject: str = Field(description="The stream subject its consumer reads")
    created_at: datetime
    state: DrainStatePublic

    @classmethod
    def of(cls, drain: Drain, *, now: datetime) -> DrainPublic:
        spec, state = drain.spec, drain.state
        return cls(
            team=spec.team,
            name=spec.name,
            kind=spec.kind,
            url=spec.url,
            services=list(spec.services),
            envs=list(spec.envs),
            header_names=[name for name, _ in spec.headers],
            ca_file=spec.ca_file,
            verify=spec.verify,
            subject=spec.subject,
            created_at=drain.created_at,
            state=DrainStatePublic(
                delivered=state.delivered,
                lost=state.lost,
                pending=state.pending,
                oldest_undelivered=state.oldest_undelivered,
                lag_s=state.lag_s(now),
                last_success_at=state.last_success_at,
                last_error=state.last_error,
                last_error_at=state.last_error_at,
                updated_at=state.updated_at,
            ),
        )
