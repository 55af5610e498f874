"""Which check an instance passes before it gets traffic (endpoints, names, the balancer).

The service's own health check when it gave one; else a TCP connect to its first TCP port, so an
instance that does not listen yet is never routed to; else (no TCP port) ready once running.
Pure: the controller probes with it, the API, CLI and portal describe it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dockyard.domain.spec import HealthCheck, ServiceSpec

Kind = Literal["http", "command", "tcp", "running"]
DEFAULT_START_S = 60.0
"""How long the default check's failures do not count: a service that gave no health check never
said how long it takes to listen, and one that is slow to start must not be restarted for it
(it is simply not ready, so not routed to, until it listens)."""


@dataclass(frozen=True)
class Readiness:
    """The check that applies (None: ready when running), the port it probes, and whether the
    service gave it (False: the default)."""

    check: HealthCheck | None
    port: int | None
    given: bool

    @property
    def kind(self) -> Kind:
        if self.check is None:
            return "running"
        if self.check.tcp:
            return "tcp"
        return "http" if self.check.http_path is not None else "command"

    def text(self) -> str:
        """One line for people: `TCP connect to port 8080 (no health check given)`."""
        check = self.check
        if check is None:
            return "ready when running (no health check given and no TCP port to connect to)"
        if check.tcp:
            return f"TCP connect to port {self.port} (no health check given)"
        if check.http_path is not None:
            return f"HTTP GET {check.http_path} on port {self.port} (health check given)"
        return f"command {' '.join(check.command)} (health check given)"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "port": self.port, "given": self.given, "text": self.text()}


def readiness(spec: ServiceSpec) -> Readiness:
    """The readiness check of `spec`'s instances; the default TCP check keeps the default
    timings of HealthCheck, so it is probed and judged like a given one, but with a start
    period of DEFAULT_START_S."""
    if spec.health_check is not None:
        return Readiness(check=spec.health_check, port=spec.health_port, given=True)
    port = next((p.container_port for p in spec.ports if p.protocol == "tcp"), None)
    if port is None:
        return Readiness(check=None, port=None, given=False)
    check = HealthCheck(tcp=True, port=port, start_period_s=DEFAULT_START_S)
    return Readiness(check=check, port=port, given=False)
