"""A plain Linux bridge for a Docker engine of the platform's own (DOCKYARD_DOCKERD_ROOT).

dockerd needs a default bridge. Started with `--bridge=none` it deletes the interface named
docker0 as it starts (its "stale default bridge"), whoever owns it: a second engine on a host
then takes the host engine's docker0 away, and every container the host engine starts on its
default network fails ("could not find bridge docker0"). So the own engine gets a bridge of its
own, made here and named for its root, passed with `--bridge=NAME`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.domain.errors import Unavailable

PREFIX = "dyd"


def own_bridge(root: Path) -> tuple[str, ipaddress.IPv4Interface]:
    """The bridge name and gateway address of the engine rooted at `root` (stable per root):
    `dyd` and 8 hex digits, and a /24 in 10.254.0.0/16."""
    digest = hashlib.sha256(str(root).encode()).digest()
    name = PREFIX + digest[:4].hex()
    return name, ipaddress.IPv4Interface(f"10.254.{digest[4]}.1/24")


def ensure_bridge(name: str, address: ipaddress.IPv4Interface) -> None:
    """Make bridge `name` with `address`, up; leave it as it is if it exists."""
    try:
        with IPRoute() as ipr:
            if ipr.link_lookup(ifname=name):
                return
            ipr.link("add", ifname=name, kind="bridge")
            index = ipr.link_lookup(ifname=name)[0]
            ipr.addr(
                "add", index=index, address=str(address.ip), prefixlen=address.network.prefixlen
            )
            ipr.link("set", index=index, state="up")
    except NetlinkError as exc:
        raise Unavailable(
            f"cannot make the bridge {name} for the platform's own engine: {exc}"
        ) from exc


def remove_bridge(name: str) -> None:
    """Delete bridge `name` if it exists."""
    try:
        with IPRoute() as ipr:
            for index in ipr.link_lookup(ifname=name):
                ipr.link("del", index=index)
    except NetlinkError as exc:
        raise Unavailable(f"cannot remove the bridge {name}: {exc}") from exc
