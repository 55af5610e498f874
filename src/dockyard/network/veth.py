"""Which host-side veth carries an instance's traffic: the peer of its `eth0`.

Read from both ends over netlink: inside the instance's network namespace (entered through
/proc/PID/ns/net), `eth0`'s link index names its peer in the host; the host's device of that
index must be a veth whose own peer index is that `eth0`. The cross-check keeps a recycled index,
or an interface whose peer lives in a third namespace, from being taken for the instance's veth.
"""

from __future__ import annotations

from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.domain.errors import NotFound


def host_veth(pid: int, *, host: IPRoute, ifname: str = "eth0") -> str:
    """The host-side veth name of `ifname` in the network namespace of process `pid`.

    NotFound if the process is gone, has no `ifname`, or `ifname` is not one end of a veth
    whose other end is in the host's namespace.
    """
    inner, peer = _inside(pid, ifname)
    links = _links(host, peer)
    link = links[0] if links else None
    if (
        link is None
        or link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) != "veth"
        or link.get("link") != inner
    ):
        raise NotFound(f"process {pid}'s {ifname} has no veth peer in the host namespace")
    return str(link.get("ifname"))


def _inside(pid: int, ifname: str) -> tuple[int, int]:
    """(index of `ifname`, index of its peer) as seen inside `pid`'s network namespace."""
    try:
        # flags=0: pyroute2 would otherwise *create* a namespace at a path that is missing.
        with IPRoute(netns=f"/proc/{pid}/ns/net", flags=0) as inside:
            found = inside.link_lookup(ifname=ifname)
            links = inside.get_links(found[0]) if found else ()
    except (OSError, NetlinkError) as exc:
        # Mostly ENOENT (the process has exited); the message keeps the kernel's reason.
        raise NotFound(f"cannot enter process {pid}'s network namespace: {exc}") from exc
    if not links or links[0].get("link") is None:
        raise NotFound(f"process {pid} has no {ifname} with a peer")
    return int(links[0]["index"]), int(links[0].get("link"))


def _links(host: IPRoute, index: int) -> tuple[Any, ...]:
    try:
        return tuple(host.get_links(index))
    except NetlinkError:  # ENODEV: the peer went away meanwhile
        return ()
