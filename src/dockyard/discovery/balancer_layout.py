"""The load balancer's desired state: which HAProxy backends, server slots and host names the
routes of a discovery snapshot need (pure).

Every service environment with a route gets one backend, named `TEAM.SERVICE.ENV` (names are
`[a-z0-9-]`, so the three parts come back by splitting on dots: the metrics relabelling does).
A backend holds a fixed number of server *slots*; an endpoint keeps its slot for as long as it
is an endpoint, so HAProxy's runtime API can follow every change (`set server ... addr`, `state`)
and only a backend or slot count that grows needs a reload. Slots come with headroom (twice what
is needed, at least `min_slots`): a scale-out within it needs no reload.

An endpoint that leaves its route is not cut: its slot goes to `drain` (no new requests, its
open connections finish) and to `maint` after `drain_s`; only then may another endpoint take it.

HTTP routes are chosen by host name (`SERVICE.TEAM.ENV.<domain>`); a route whose port is named
for something other than HTTP (`redis`, `tcp`, ...) gets a TCP port of its own from a range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.snapshot import Snapshot
from dockyard.domain.environment import Environment

State = Literal["ready", "drain", "maint"]
Mode = Literal["http", "tcp"]
UNUSED_ADDRESS = "127.0.0.1"
UNUSED_PORT = 1
"""Where a slot no endpoint ever took points (it is in `maint`: nothing is sent there)."""


@dataclass(frozen=True)
class Shape:
    """The settings the layout follows."""

    domain: str = "dockyard.internal"
    tcp_ports: range = range(20000, 20100)
    """Ports handed to TCP routes, one per service environment."""
    min_slots: int = 8
    drain_s: float = 30.0
    """How long a leaving endpoint's slot stays in `drain` before `maint` (and reuse)."""


@dataclass(frozen=True)
class Slot:
    """One `server` line of a backend (named s1, s2, ... by position)."""

    address: str = UNUSED_ADDRESS
    port: int = UNUSED_PORT
    state: State = "maint"
    since: float = 0.0
    """When it entered `state` (the clock of `arrange`)."""

    @property
    def target(self) -> tuple[str, int]:
        return (self.address, self.port)

    @property
    def used(self) -> bool:
        """False for a slot no endpoint ever took."""
        return self.target != (UNUSED_ADDRESS, UNUSED_PORT)


@dataclass(frozen=True)
class Backend:
    """One service environment's backend."""

    team: str
    service: str
    env: Environment
    mode: Mode
    slots: tuple[Slot, ...]
    tcp_port: int | None = None
    """The frontend port of a TCP route; None for HTTP."""
    routed: bool = True
    """False once its route left the snapshot: its slots drain, its host name is gone."""

    @property
    def name(self) -> str:
        return backend_name(self.team, self.service, self.env)


@dataclass(frozen=True)
class Layout:
    """Everything the balancer serves: backends by name, host name -> backend name."""

    backends: Mapping[str, Backend] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    unrouted: tuple[str, ...] = ()
    """Backends left out, each with why (no TCP port left in the range)."""


def backend_name(team: str, service: str, env: Environment) -> str:
    return f"{team}.{service}.{env.value}"


def host_name(backend: Backend, domain: str) -> str:
    return f"{backend.service}.{backend.team}.{backend.env.value}.{domain}"


def mode_of(endpoints: Iterable[Endpoint]) -> tuple[Mode, int] | None:
    """The route's mode and the container port it reaches on its first endpoint (the first
    TCP port of its revision); None without an endpoint with a TCP port. A port named
    `http...` or unnamed is HTTP."""
    for endpoint in endpoints:
        for port in endpoint.ports:
            if port.protocol == "tcp":
                http = port.name == "" or port.name.startswith("http")
                return ("http" if http else "tcp", port.container_port)
    return None


def targets(endpoints: Iterable[Endpoint]) -> list[tuple[str, int]]:
    """Each endpoint's address and its first TCP port (its revision may differ from the
    others' during a rollout, and so may the port)."""
    found = []
    for endpoint in endpoints:
        port = next((p.container_port for p in endpoint.ports if p.protocol == "tcp"), None)
        if port is not None and endpoint.address:
            found.append((endpoint.address, port))
    return sorted(set(found))


def place(
    slots: tuple[Slot, ...], wanted: list[tuple[str, int]], *, shape: Shape, now: float
) -> tuple[Slot, ...]:
    """The slots after one pass: wanted targets ready in their own slot (a new one in the
    lowest free slot, growing by headroom when none is free), the others draining, then
    in maintenance after `drain_s`."""
    want = set(wanted)
    kept: list[Slot] = []
    for slot in slots:
        if slot.target in want:
            want.discard(slot.target)
            kept.append(
                slot if slot.state == "ready" else Slot(slot.address, slot.port, "ready", now)
            )
        elif slot.state == "ready":
            kept.append(replace(slot, state="drain", since=now))
        elif slot.state == "drain" and now - slot.since >= shape.drain_s:
            kept.append(replace(slot, state="maint", since=now))
        else:
            kept.append(slot)
    for target in sorted(want):
        free = next((i for i, s in enumerate(kept) if s.state == "maint"), None)
        if free is None:
            kept.extend(Slot() for _ in range(_capacity(len(kept) + 1, shape) - len(kept)))
            free = next(i for i, s in enumerate(kept) if s.state == "maint")
        kept[free] = Slot(target[0], target[1], "ready", now)
    if len(kept) < shape.min_slots:
        kept.extend(Slot() for _ in range(shape.min_slots - len(kept)))
    return tuple(kept)


def _capacity(needed: int, shape: Shape) -> int:
    return max(shape.min_slots, 2 * needed)


def arrange(previous: Layout, snapshot: Snapshot, *, shape: Shape, now: float) -> Layout:
    """The layout serving `snapshot`, moved on from `previous` (slots kept, drains timed).

    A route without endpoints keeps its backend (empty of ready slots: HAProxy answers 503);
    one never seen with an endpoint has no port to reach yet and waits. A backend whose route
    left keeps draining and goes once all its slots are in maintenance.
    """
    backends: dict[str, Backend] = {}
    unrouted: list[str] = []
    taken = {b.tcp_port for b in previous.backends.values() if b.tcp_port is not None}
    for route in sorted(snapshot.routes.values(), key=lambda r: (r.team, r.service, r.env)):
        name = backend_name(route.team, route.service, route.env)
        old = previous.backends.get(name)
        found = mode_of(route.endpoints)
        mode = found[0] if found else (old.mode if old else None)
        if mode is None:
            continue
        tcp_port = old.tcp_port if old and old.mode == mode else None
        if mode == "tcp" and tcp_port is None:
            tcp_port = next((p for p in shape.tcp_ports if p not in taken), None)
            if tcp_port is None:
                unrouted.append(f"{name}: no TCP port left in {shape.tcp_ports}")
                continue
            taken.add(tcp_port)
        slots = place(old.slots if old else (), targets(route.endpoints), shape=shape, now=now)
        backends[name] = Backend(
            route.team, route.service, route.env, mode, slots, tcp_port=tcp_port
        )
    for name, old in previous.backends.items():
        if name not in backends:
            slots = place(old.slots, [], shape=shape, now=now)
            if any(s.state != "maint" for s in slots):
                backends[name] = replace(old, slots=slots, routed=False)
    hosts = {
        host_name(b, shape.domain): name
        for name, b in sorted(backends.items())
        if b.mode == "http" and b.routed
    }
    return Layout(dict(sorted(backends.items())), hosts, tuple(unrouted))
