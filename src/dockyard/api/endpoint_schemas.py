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
