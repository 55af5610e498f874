"""What the endpoints API answers: a service environment's ready instances and their version."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dockyard.discovery.endpoints import Endpoint, EndpointSet
from dockyard.domain.environment import Environment


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EndpointPort(_Out):
    port: int
    protocol: Literal["tcp", "udp"]
    name: str


class EndpointPublic(_Out):
    instance: str
    address: str = Field(description="The instance's IP: its ports are reached there.")
    ports: list[EndpointPort]
    revision: int
    ready_at: datetime | None = Field(description="Since when the instance has been ready.")
    host: str | None = Field(description="The host it runs on, where recorded.")

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointPublic:
        return cls(
            instance=endpoint.instance,
            address=endpoint.address,
            ports=[
                EndpointPort(port=p.container_port, protocol=p.protocol, name=p.name)
                for p in endpoint.ports
            ],
            revision=endpoint.revision,
            ready_at=endpoint.ready_at,
            host=endpoint.host,
        )


class EndpointsPublic(_Out):
    team: str
    service: str
    env: Environment = Field(description="The environment asked for.")
    env_used: Environment = Field(
        description="The environment answered: `stable` when `test` was asked with fallback "
        "and has no ready instance."
    )
    version: str = Field(description="Changes whenever the answer changes: pass it as `since`.")
    endpoints: list[EndpointPublic]

    @classmethod
    def of(cls, found: EndpointSet, *, team: str, service: str) -> EndpointsPublic:
        return cls(
            team=team,
            service=service,
            env=found.env,
            env_used=found.env_used,
            version=found.version,
            endpoints=[EndpointPublic.of(e) for e in found.endpoints],
        )


def endpoints_json(found: EndpointSet, *, team: str, service: str) -> dict[str, Any]:
    return EndpointsPublic.of(found, team=team, service=service).model_dump(mode="json")


class RoutePublic(_Out):
    team: str
    service: str
    env: Environment
    publish: str | list[str] = Field(
        description="'private', 'all' or the teams it is published to."
    )
    version: str = Field(description="Changes whenever this route's endpoints change.")
    endpoints: list[EndpointPublic]


class CallerPublic(_Out):
    address: str = Field(description="An instance's address, ready or not.")
    team: str
    service: str
    env: Environment


class SnapshotPublic(_Out):
    version: str = Field(description="Changes whenever anything below does: pass it as `since`.")
    routes: list[RoutePublic] = Field(description="Every live service environment, maybe empty.")
    callers: list[CallerPublic] = Field(
        description="The service environment of every instance address (DNS tells a caller's "
        "environment by it)."
    )
