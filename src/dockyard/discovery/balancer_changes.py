"""From the layout HAProxy serves to the next one: runtime API commands, or a reload (pure).

The runtime API changes a server's address and state and a map's entries in place, with no
new process and no connection lost; it cannot add a backend, a server or a frontend. So a
reload is needed exactly when the next layout has a backend, a slot or a TCP port the current
one lacks (or a backend changes mode); everything else is commands.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.discovery.balancer_layout import Backend, Layout


@dataclass(frozen=True)
class Plan:
    """What applying a layout takes: a reload (with the whole configuration rewritten), or
    these runtime API commands, in order."""

    reload: bool
    commands: tuple[str, ...] = ()


def needs_reload(current: Layout, nxt: Layout) -> bool:
    """True if HAProxy's running configuration cannot serve `nxt` through the runtime API."""
    for name, backend in nxt.backends.items():
        old = current.backends.get(name)
        if old is None or old.mode != backend.mode or old.tcp_port != backend.tcp_port:
            return True
        if len(backend.slots) > len(old.slots):
            return True
    return False


def server_commands(old: Backend, new: Backend) -> tuple[list[str], list[str]]:
    """`set server` commands taking `old`'s slots to `new`'s, in two lists: first those that
    bring servers in (an address moves before its slot is made ready), then those that take
    servers out (drain, maintenance). Run in that order, a backend whose whole set is replaced
    at once never has a moment with no server to send a request to."""
    bring: list[str] = []
    take: list[str] = []
    for number, (was, now) in enumerate(zip(old.slots, new.slots, strict=False), start=1):
        server = f"{new.name}/s{number}"
        steps = bring if now.state == "ready" else take
        if was.target != now.target:
            if was.state != "maint":  # never point a slot that takes traffic elsewhere
                steps.append(f"set server {server} state maint")
            steps.append(f"set server {server} addr {now.address} port {now.port}")
            if now.state != "maint":
                steps.append(f"set server {server} state {now.state}")
        elif was.state != now.state:
            steps.append(f"set server {server} state {now.state}")
    return bring, take


def map_commands(current: Layout, nxt: Layout, map_file: str) -> list[str]:
    """`del map` for host names gone or moved, then `add map` for the new ones."""
    gone = [h for h, b in current.hosts.items() if nxt.hosts.get(h) != b]
    added = [h for h, b in nxt.hosts.items() if current.hosts.get(h) != b]
    return [f"del map {map_file} {h}" for h in gone] + [
        f"add map {map_file} {h} {nxt.hosts[h]}" for h in added
    ]


def plan(current: Layout, nxt: Layout, *, map_file: str) -> Plan:
    """How to take HAProxy from serving `current` to serving `nxt`."""
    if needs_reload(current, nxt):
        return Plan(reload=True)
    bring: list[str] = []
    take: list[str] = []
    for name, backend in nxt.backends.items():
        more, fewer = server_commands(current.backends[name], backend)
        bring += more
        take += fewer
    return Plan(reload=False, commands=(*map_commands(current, nxt, map_file), *bring, *take))
