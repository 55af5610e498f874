"""DNS names of services: which records a caller gets for a name. Pure: the DNS server
(PowerDNS, through `dockyard names`) asks, this decides from the last feed snapshot.

Names under the zone (labels are case-insensitive):
- `SERVICE.TEAM` — A records of the ready instances of the caller's own environment, with the
  stable fallback from `test` (discovery/endpoints.py `candidates`: never across the
  offline/online split);
- `SERVICE.TEAM.ENV` — an explicit environment, on the caller's network only, no fallback;
- `_PORT._tcp.` (or `_udp.`) before either — SRV records of the named port, whose targets are
  the instances' own names (below);
- `INSTANCE.SERVICE.TEAM.ENV` — the A record of one ready instance;
- the zone itself — SOA and NS.

The caller is known by its source address (every instance's address is in the snapshot). A
caller that is no instance gets nothing but the zone's SOA and NS: without an environment
there is no answer that keeps the offline/online split. A caller sees its own team's services
and those published to it; anything else does not exist for it (NXDOMAIN), like a name that
names nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dockyard.discovery.endpoints import Endpoint, candidates
from dockyard.discovery.snapshot import Route, Snapshot
from dockyard.domain.environment import Environment
from dockyard.domain.publish import visible_to

ANY = "ANY"
MAX_TTL_S = 5


@dataclass(frozen=True)
class Zone:
    """The zone Dockyard is authoritative for."""

    name: str = "dockyard.internal"
    ttl_s: int = MAX_TTL_S
    """Of every record, and of negative answers (the SOA minimum)."""


@dataclass(frozen=True)
class Record:
    name: str
    """Absolute, lower case, without the final dot."""
    qtype: str
    content: str
    ttl_s: int


@dataclass(frozen=True)
class ServiceName:
    """A parsed name below the zone."""

    service: str
    team: str
    env: Environment | None = None
    instance: str | None = None
    port: tuple[str, str] | None = None
    """(name, protocol) of an SRV name."""


def answer(
    zone: Zone, snapshot: Snapshot, *, qname: str, qtype: str, caller: str | None
) -> tuple[Record, ...]:
    """The records of type `qtype` (ANY: of every type) at `qname` for a caller at address
    `caller`. Empty when the name has none (for ANY: the name does not exist)."""
    name = qname.rstrip(".").lower()
    found = tuple(_records(zone, snapshot, name, caller))
    return found if qtype.upper() == ANY else tuple(r for r in found if r.qtype == qtype.upper())


def _records(zone: Zone, snapshot: Snapshot, name: str, caller: str | None) -> Iterator[Record]:
    if name == zone.name:
        yield Record(name, "SOA", soa(zone), zone.ttl_s)
        yield Record(name, "NS", f"ns.{zone.name}", zone.ttl_s)
        return
    parsed = parse(zone, name)
    asker = snapshot.callers.get(caller or "")
    if parsed is None or asker is None:
        return
    chosen = _route(snapshot, parsed, asker)
    if chosen is None:
        return
    for endpoint in chosen.endpoints:
        yield from _endpoint_records(zone, name, parsed, chosen, endpoint)


def _endpoint_records(
    zone: Zone, name: str, parsed: ServiceName, route: Route, endpoint: Endpoint
) -> Iterator[Record]:
    if parsed.instance is not None:
        if endpoint.instance == parsed.instance:
            yield Record(name, "A", endpoint.address, zone.ttl_s)
    elif parsed.port is None:
        yield Record(name, "A", endpoint.address, zone.ttl_s)
    else:
        target = f"{endpoint.instance}.{route.service}.{route.team}.{route.env.value}.{zone.name}"
        for port in endpoint.ports:
            if (port.name, port.protocol) == parsed.port:
                content = f"0 1 {port.container_port} {target}"
                yield Record(name, "SRV", content, zone.ttl_s)


def _route(
    snapshot: Snapshot, name: ServiceName, asker: tuple[str, str, Environment]
) -> Route | None:
    """The route answering `name` for a caller instance of `asker`, if it may see one."""
    team, _, env = asker
    if name.env is None:
        envs = candidates(env, fallback=True)
    elif name.env.network == env.network:
        envs = (name.env,)
    else:
        return None
    routes = [snapshot.routes.get((name.team, name.service, e)) for e in envs]
    present = [r for r in routes if r is not None]
    if not present or not visible_to(present[0].publish, owner=name.team, caller=team):
        return None
    return next((r for r in present if r.endpoints), present[0])


def parse(zone: Zone, name: str) -> ServiceName | None:
    """The service name `name` (lower case, no final dot) stands for, or None."""
    suffix = "." + zone.name
    if not name.endswith(suffix):
        return None
    labels = name[: -len(suffix)].split(".")
    port = None
    if len(labels) > 2 and labels[0].startswith("_") and labels[1] in ("_tcp", "_udp"):
        port, labels = (labels[0][1:], labels[1][1:]), labels[2:]
    env = _environment(labels[-1]) if len(labels) in (3, 4) else None
    if len(labels) == 2:
        return ServiceName(service=labels[0], team=labels[1], port=port)
    if env is None or (len(labels) == 4 and port is not None):
        return None
    if len(labels) == 3:
        return ServiceName(service=labels[0], team=labels[1], env=env, port=port)
    return ServiceName(service=labels[1], team=labels[2], env=env, instance=labels[0])


def _environment(label: str) -> Environment | None:
    try:
        return Environment(label)
    except ValueError:
        return None


def soa(zone: Zone) -> str:
    """The zone's SOA: a fixed serial (nothing transfers this zone), negative TTL `ttl_s`."""
    return f"ns.{zone.name} hostmaster.{zone.name} 1 60 30 600 {zone.ttl_s}"
