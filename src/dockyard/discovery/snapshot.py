"""Every service environment's endpoints at once: what the all-services feed carries to the
programs that route by them (the DNS names, the load balancer).

A snapshot holds a route per live service and environment (its ready endpoints, maybe none:
the name exists while the service does) and the address of every instance that holds one, so
a DNS answer can tell the caller's environment from its source address. Pure: built from the
store's records, and to and from the JSON the feed sends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockyard.discovery.endpoints import Endpoint, answer_version, endpoints_of, fingerprint
from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.publish import PRIVATE, Publish, parse_publish, publish_json
from dockyard.domain.spec import Port
from dockyard.domain.status import EnvKey, InstanceRecord
from dockyard.store.endpoints import Published

RouteKey = tuple[str, str, Environment]
"""(team, service, environment)."""


@dataclass(frozen=True)
class Route:
    """One service environment's ready endpoints and the version naming exactly them."""

    team: str
    service: str
    env: Environment
    endpoints: tuple[Endpoint, ...]
    version: str
    publish: Publish = PRIVATE
    """Who besides its team may reach it (domain/publish.py)."""

    @property
    def key(self) -> RouteKey:
        return (self.team, self.service, self.env)


@dataclass(frozen=True)
class Snapshot:
    """Every route, and the service environment of every instance address (ready or not)."""

    routes: Mapping[RouteKey, Route]
    callers: Mapping[str, RouteKey]
    version: str
    """Changes whenever anything above does."""


def snapshot_of(
    services: Sequence[Published],
    found: Mapping[EnvKey, Sequence[InstanceRecord]],
    ports: Mapping[tuple[EnvKey, int], tuple[Port, ...]],
) -> Snapshot:
    """The snapshot of `services` (every environment of each) from their instances `found`
    (any health; those without an address are ignored); `ports` by key and revision."""
    routes: dict[RouteKey, Route] = {}
    callers: dict[str, RouteKey] = {}
    for service in services:
        for env in ALL_ENVIRONMENTS:
            key = EnvKey(service.service_id, env)
            records = found.get(key, ())
            revisions = {r.revision: ports.get((key, r.revision), ()) for r in records}
            route = Route(
                team=service.team,
                service=service.service,
                env=env,
                endpoints=endpoints_of(records, revisions),
                version=answer_version(env, fingerprint(records)),
                publish=service.publish,
            )
            routes[route.key] = route
            callers.update({r.ip: route.key for r in records if r.ip})
    return Snapshot(routes=routes, callers=callers, version=_version(routes, callers))


def _version(routes: Mapping[RouteKey, Route], callers: Mapping[str, RouteKey]) -> str:
    parts = [f"{'/'.join(k)}|{r.version}|{publish_json(r.publish)}" for k, r in routes.items()]
    parts += [f"{address}|{'/'.join(key)}" for address, key in callers.items()]
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """The feed's rendering of `snapshot` (endpoints as the endpoints API renders them)."""
    return {
        "version": snapshot.version,
        "routes": [_route_json(route) for route in snapshot.routes.values()],
        "callers": [
            {"address": address, "team": team, "service": service, "env": env.value}
            for address, (team, service, env) in sorted(snapshot.callers.items())
        ],
    }


def _route_json(route: Route) -> dict[str, Any]:
    return {
        "team": route.team,
        "service": route.service,
        "env": route.env.value,
        "publish": publish_json(route.publish),
        "version": route.version,
        "endpoints": [
            {
                "instance": e.instance,
                "address": e.address,
                "ports": [
                    {"port": p.container_port, "protocol": p.protocol, "name": p.name}
                    for p in e.ports
                ],
                "revision": e.revision,
                "ready_at": e.ready_at.isoformat() if e.ready_at else None,
                "host": e.host,
            }
            for e in route.endpoints
        ],
    }


def snapshot_from_json(body: Mapping[str, Any]) -> Snapshot:
    """The snapshot `snapshot_json` rendered. KeyError, ValueError or TypeError if `body` is
    not one (the caller names the source)."""
    routes = [_route_from_json(raw) for raw in body["routes"]]
    callers = {
        str(raw["address"]): (str(raw["team"]), str(raw["service"]), Environment(raw["env"]))
        for raw in body["callers"]
    }
    return Snapshot(
        routes={route.key: route for route in routes},
        callers=callers,
        version=str(body["version"]),
    )


def _route_from_json(raw: Mapping[str, Any]) -> Route:
    return Route(
        team=str(raw["team"]),
        service=str(raw["service"]),
        env=Environment(raw["env"]),
        publish=parse_publish(raw["publish"]),
        version=str(raw["version"]),
        endpoints=tuple(
            Endpoint(
                instance=str(e["instance"]),
                address=str(e["address"]),
                ports=tuple(
                    Port(container_port=int(p["port"]), protocol=p["protocol"], name=p["name"])
                    for p in e["ports"]
                ),
                revision=int(e["revision"]),
                ready_at=datetime.fromisoformat(e["ready_at"]) if e["ready_at"] else None,
                host=e.get("host"),
            )
            for e in raw["endpoints"]
        ),
    )
