"""Per-instance bandwidth limits as traffic-control objects on the instance's host-side veth.

Pure: from the limits wanted and the shaping found on one veth, `plan` lists the changes that make
the second match the first; `network/tc.py` reads the shaping from the kernel and carries the
changes out. The layout, per limited instance (limits are named from the service's side):

    ingress (traffic TO the instance) leaves the host through the veth:
        veth  root HTB 1: --> class 1:1 (rate = ceil = the limit)
    egress (traffic FROM the instance) enters the host through the veth:
        veth  ingress qdisc --> u32 match-all --> mirred redirect --> ifb
        ifb   root HTB 1: --> class 1:1 (rate = ceil = the limit)

This kernel has no police action, so ingress cannot be dropped at the veth: it is redirected to
an ifb device (one per limited instance) and queued there like any egress. A rate change only
changes class 1:1 in place, so limits change live: no packet path is torn down.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dockyard.domain.spec import Bandwidth

IFNAMSIZ = 15  # the kernel's longest interface name (16 bytes with the NUL)
IFB_PREFIX = "dyb"
IFB_ALIAS_PREFIX = "dockyard bandwidth of "
MTU = 1514  # one full Ethernet frame, as HTB counts it
BYTES_PER_MBIT = 125_000  # 10^6 bit / 8
MAX_QUANTUM = 200_000  # the kernel warns above this and clamps it anyway


@dataclass(frozen=True)
class HtbRate:
    """One HTB class's parameters, in bytes and bytes/s as the kernel takes them."""

    rate: int
    burst: int
    quantum: int


def htb_rate(mbit: int) -> HtbRate:
    """The class that holds traffic to `mbit` Mbit/s.

    The burst is one millisecond of traffic plus one frame (what `tc` picks at HZ=1000): enough
    for the timer's granularity, too little to let a short window exceed the limit noticeably.
    The quantum only matters between sibling classes (there are none); it is set explicitly so
    the kernel does not log a warning for high rates.
    """
    rate = mbit * BYTES_PER_MBIT
    return HtbRate(
        rate=rate,
        burst=rate // 1000 + MTU,
        quantum=min(max(rate // 10, MTU), MAX_QUANTUM),
    )


def ifb_name(veth: str) -> str:
    """The ifb device of `veth`: `dyb` + the veth's own suffix when it fits, else a hash.

    Docker's `veth1a2b3c4` gives `dyb1a2b3c4`. Names from the suffix are at most 14 characters
    and hashed ones exactly 15, so the two kinds never collide.
    """
    if veth.startswith("veth") and len(IFB_PREFIX) + len(veth) - 4 < IFNAMSIZ:
        return IFB_PREFIX + veth[4:]
    return IFB_PREFIX + hashlib.sha256(veth.encode()).hexdigest()[: IFNAMSIZ - len(IFB_PREFIX)]


def ifb_alias(veth: str) -> str:
    """The ifb's alias names its veth, so an ifb whose veth is gone can be found and removed."""
    return IFB_ALIAS_PREFIX + veth


def veth_of_alias(alias: str | None) -> str | None:
    """Inverse of `ifb_alias`; None for an alias Dockyard did not write (not ours to touch)."""
    if alias is None or not alias.startswith(IFB_ALIAS_PREFIX):
        return None
    return alias[len(IFB_ALIAS_PREFIX) :] or None


@dataclass(frozen=True)
class Shaping:
    """What one veth carries now, as read from the kernel (rates in bytes/s)."""

    to_instance: int | None = None
    """Rate of the veth's root HTB class 1:1; None without one."""
    ifb: bool = False
    """The veth's ifb device exists."""
    from_instance: int | None = None
    """Rate of the ifb's root HTB class 1:1; None without the ifb or the class."""
    ingress: bool = False
    """The veth has an ingress qdisc (whatever its filters)."""
    redirect: bool = False
    """That ingress qdisc redirects every packet to the veth's ifb."""

    @property
    def empty(self) -> bool:
        return self == Shaping()


# ---- the changes; each is idempotent on its own, and names the device it acts on first ----


@dataclass(frozen=True)
class SetRate:
    """Make `device`'s root an HTB qdisc whose default class 1:1 has `rate` (create or change)."""

    device: str
    rate: HtbRate


@dataclass(frozen=True)
class ClearRoot:
    """Remove `device`'s root qdisc (the device falls back to its default)."""

    device: str


@dataclass(frozen=True)
class AddIfb:
    """Create the ifb device `device` (up, its alias naming `veth`) unless it exists."""

    device: str
    veth: str


@dataclass(frozen=True)
class Redirect:
    """Make the veth `device`'s ingress qdisc redirect every packet to the ifb `ifb`,
    replacing any ingress qdisc already there (with its filters)."""

    device: str
    ifb: str


@dataclass(frozen=True)
class ClearIngress:
    """Remove the veth `device`'s ingress qdisc, with its filter."""

    device: str


@dataclass(frozen=True)
class DeleteIfb:
    """Delete the ifb device `device` (and the qdiscs on it) if it exists."""

    device: str


Change = SetRate | ClearRoot | AddIfb | Redirect | ClearIngress | DeleteIfb


def plan(veth: str, wanted: Bandwidth, found: Shaping) -> tuple[Change, ...]:
    """The changes, in order, that turn `found` on `veth` into `wanted`; () when they agree.

    The ifb is shaped before traffic is redirected to it, and the redirect removed before the
    ifb is deleted, so no packet is ever sent to a missing or unshaped device.
    """
    return _to_instance(veth, wanted.ingress_mbit, found) + _from_instance(
        veth, wanted.egress_mbit, found
    )


def _to_instance(veth: str, mbit: int | None, found: Shaping) -> tuple[Change, ...]:
    if mbit is None:
        return (ClearRoot(veth),) if found.to_instance is not None else ()
    rate = htb_rate(mbit)
    return (SetRate(veth, rate),) if found.to_instance != rate.rate else ()


def _from_instance(veth: str, mbit: int | None, found: Shaping) -> tuple[Change, ...]:
    ifb = ifb_name(veth)
    if mbit is None:
        return ((ClearIngress(veth),) if found.ingress else ()) + (
            (DeleteIfb(ifb),) if found.ifb else ()
        )
    rate = htb_rate(mbit)
    changes: list[Change] = []
    if not found.ifb:
        changes.append(AddIfb(ifb, veth))
    if not found.ifb or found.from_instance != rate.rate:
        changes.append(SetRate(ifb, rate))
    if not found.redirect:
        changes.append(Redirect(veth, ifb))
    return tuple(changes)
