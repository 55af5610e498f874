"""VLAN sub-interfaces that put a segment's bridge on its VLAN: `UPLINK.VID` on the host's
configured uplink, enslaved to the segment's bridge `dy-NAME` (segment_networks.py has Docker
make the bridge; this module attaches it).

The decisions are pure (`vlan_ifname`, `plan_attach`, `plan_detach` over `Link` views); the
netlink side (`VlanLinks`, pyroute2) only reads links and carries out the steps. Each
sub-interface Dockyard makes or adopts carries the alias `dockyard:segment=NAME`, so it can be
found and removed with its segment even after the bridge is gone.

Needs a kernel with 802.1Q: on one without it (the project's own machines) the create step
fails; segment_networks.py probes first and refuses the segment before anything is made.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.domain.errors import Conflict, NotFound, RuntimeFailure

IFNAMSIZ = 15  # longest Linux interface name (16 bytes with the NUL)
ALIAS_PREFIX = "dockyard:segment="
IFF_UP = 0x1


def vlan_ifname(uplink: str, vlan: int) -> str:
    """The sub-interface's name: `UPLINK.VID` when it fits in 15 characters, else as much of
    the uplink as fits, 4 hex digits of a hash of the whole uplink name, then `.VID`.

    Deterministic, so every pass (and every agent restart) looks for the same name; the hash
    keeps two long uplinks with a common beginning apart.
    """
    plain = f"{uplink}.{vlan}"
    if len(plain) <= IFNAMSIZ:
        return plain
    suffix = hashlib.sha256(uplink.encode()).hexdigest()[:4] + f".{vlan}"
    return uplink[: IFNAMSIZ - len(suffix)] + suffix


def segment_alias(segment: str) -> str:
    return ALIAS_PREFIX + segment


def segment_of_alias(alias: str | None) -> str | None:
    """The segment an alias written by `segment_alias` names; None for anyone else's alias."""
    if alias is None or not alias.startswith(ALIAS_PREFIX):
        return None
    return alias[len(ALIAS_PREFIX) :] or None


@dataclass(frozen=True)
class Attachment:
    """What one VLAN segment needs on a host: its bridge on VLAN `vlan` of `uplink`."""

    segment: str
    uplink: str
    vlan: int
    bridge: str

    @property
    def name(self) -> str:
        return vlan_ifname(self.uplink, self.vlan)

    @property
    def alias(self) -> str:
        return segment_alias(self.segment)


@dataclass(frozen=True)
class Link:
    """What netlink says of one network interface (names resolved from indexes)."""

    name: str
    kind: str | None = None
    vlan: int | None = None
    parent: str | None = None
    """The interface a VLAN sits on."""
    master: str | None = None
    """The bridge it is enslaved to."""
    up: bool = False
    alias: str | None = None


# -- steps -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    name: str
    uplink: str
    vlan: int


@dataclass(frozen=True)
class Label:
    name: str
    alias: str


@dataclass(frozen=True)
class Enslave:
    name: str
    bridge: str


@dataclass(frozen=True)
class BringUp:
    name: str


@dataclass(frozen=True)
class Delete:
    name: str


Step = Create | Label | Enslave | BringUp | Delete


def plan_attach(want: Attachment, links: Mapping[str, Link]) -> tuple[Step, ...]:
    """The steps that leave `want.name` a VLAN `want.vlan` of `want.uplink`, labelled, enslaved
    to `want.bridge` and up, given the host's `links` by name; () when it already is.

    Sub-interfaces labelled for this segment under another name (the segment was re-made with
    another VLAN id) are deleted first. Raises, and so plans nothing, when the uplink is
    missing (NotFound) or an interface of that name is something else: not a VLAN, another VLAN
    id or parent, another bridge's port, or another segment's (Conflict). Such an interface is
    never reused or changed: someone else made it.
    """
    if want.uplink not in links:
        raise NotFound(
            f"uplink {want.uplink} (DOCKYARD_UPLINK) is not an interface on this host, so "
            f"segment {want.segment} cannot reach VLAN {want.vlan}: set the uplink's real name"
        )
    steps: list[Step] = [
        Delete(link.name)
        for link in links.values()
        if link.kind == "vlan" and link.alias == want.alias and link.name != want.name
    ]
    found = links.get(want.name)
    if found is None:
        return (
            *steps,
            Create(want.name, want.uplink, want.vlan),
            Label(want.name, want.alias),
            Enslave(want.name, want.bridge),
            BringUp(want.name),
        )
    _check_reusable(want, found)
    if found.alias != want.alias:
        steps.append(Label(want.name, want.alias))
    if found.master != want.bridge:
        steps.append(Enslave(want.name, want.bridge))
    if not found.up:
        steps.append(BringUp(want.name))
    return tuple(steps)


def _check_reusable(want: Attachment, found: Link) -> None:
    what = f"interface {found.name} exists but"
    fix = f"remove it (`ip link del {found.name}`) or configure another uplink"
    if found.kind != "vlan":
        problem = f"is a {found.kind or 'plain'} interface, not a VLAN"
    elif found.vlan != want.vlan or found.parent != want.uplink:
        problem = f"is VLAN {found.vlan} on {found.parent}, not VLAN {want.vlan} on {want.uplink}"
    elif (other := segment_of_alias(found.alias)) not in (None, want.segment):
        problem = f"carries segment {other}, which has the same VLAN"
        fix = "give each segment its own VLAN id"
    elif found.master not in (None, want.bridge):
        problem = f"is a port of bridge {found.master}, not of {want.bridge}"
    else:
        return
    raise Conflict(f"{what} {problem}, so segment {want.segment} cannot use it: {fix}")


def plan_detach(segment: str, links: Iterable[Link]) -> tuple[Delete, ...]:
    """Deleting every VLAN sub-interface labelled for `segment` (none: ())."""
    alias = segment_alias(segment)
    return tuple(Delete(link.name) for link in links if link.kind == "vlan" and link.alias == alias)


def labelled_segments(links: Iterable[Link]) -> set[str]:
    """The segments that VLAN sub-interfaces here are labelled for."""
    return {
        name
        for link in links
        if link.kind == "vlan" and (name := segment_of_alias(link.alias)) is not None
    }


# -- netlink -----------------------------------------------------------------------------------


class VlanLinks:
    """Reads links and carries out steps over netlink, in the host's namespace or `netns`.
    Blocking: use from one thread (run it with asyncio.to_thread from async code)."""

    def __init__(self, *, netns: str | None = None) -> None:
        # flags=0: pyroute2 would otherwise create a namespace of that name if it is missing.
        self._ipr = IPRoute() if netns is None else IPRoute(netns=netns, flags=0)

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> VlanLinks:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def links(self) -> dict[str, Link]:
        """Every interface, by name."""
        with _translated("reading interfaces"):
            raw = list(self._ipr.get_links())
        names = {int(msg["index"]): str(msg.get("IFLA_IFNAME")) for msg in raw}
        return {link.name: link for link in (_link(msg, names) for msg in raw)}

    def attach(self, want: Attachment) -> tuple[Step, ...]:
        """Make `want` hold (see `plan_attach`); returns the steps taken.

        Idempotent. If another process creates the sub-interface at the same moment, the plan
        is made again once from what is then there. On failure the earlier steps stay; the next
        call picks up from there.
        """
        try:
            steps = plan_attach(want, self.links())
            self.apply(steps)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise _failure(f"attaching {want.name}", exc) from exc
            steps = plan_attach(want, self.links())
            self.apply(steps)
        return steps

    def detach(self, segment: str) -> tuple[Delete, ...]:
        """Delete the sub-interfaces labelled for `segment`; returns the steps taken."""
        steps = plan_detach(segment, self.links().values())
        self.apply(steps)
        return steps

    def apply(self, steps: Iterable[Step]) -> None:
        """Carry out `steps` in order. NetlinkError EEXIST from a Create is left to the caller
        (someone made it meanwhile); other kernel refusals are RuntimeFailure."""
        for step in steps:
            match step:
                case Create(name, uplink, vlan):
                    parent = self._index(uplink)
                    self._ipr.link("add", ifname=name, kind="vlan", link=parent, vlan_id=vlan)
                case Label(name, alias):
                    with _translated(f"labelling {name}"):
                        self._ipr.link("set", index=self._index(name), ifalias=alias)
                case Enslave(name, bridge):
                    with _translated(f"enslaving {name} to {bridge}"):
                        self._ipr.link("set", index=self._index(name), master=self._index(bridge))
                case BringUp(name):
                    with _translated(f"bringing {name} up"):
                        self._ipr.link("set", index=self._index(name), state="up")
                case Delete(name):
                    self._delete(name)

    def _index(self, name: str) -> int:
        found = self._ipr.link_lookup(ifname=name)
        if not found:
            raise NotFound(f"interface {name} is gone: it was removed meanwhile; try again")
        return int(found[0])

    def _delete(self, name: str) -> None:
        found = self._ipr.link_lookup(ifname=name)
        if not found:
            return  # deleting what is gone succeeds
        try:
            self._ipr.link("del", index=found[0])
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise _failure(f"deleting {name}", exc) from exc


def _link(msg: Any, names: Mapping[int, str]) -> Link:
    parent = msg.get("IFLA_LINK")
    master = msg.get("IFLA_MASTER")
    vlan = msg.get(("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_VLAN_ID"))
    return Link(
        name=str(msg.get("IFLA_IFNAME")),
        kind=msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")),
        vlan=None if vlan is None else int(vlan),
        parent=None if parent is None else names.get(int(parent)),
        master=None if master is None else names.get(int(master)),
        up=bool(int(msg["flags"]) & IFF_UP),
        alias=msg.get("IFLA_IFALIAS"),
    )


def _failure(action: str, exc: NetlinkError) -> RuntimeFailure:
    return RuntimeFailure(f"{action}: the kernel refused: {exc.args[-1] if exc.args else exc}")


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except NetlinkError as exc:
        raise _failure(action, exc) from exc
