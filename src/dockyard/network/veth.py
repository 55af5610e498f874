"""Which host-side veth carries an instance's traffic: the peer of its `eth0`.

Read from both ends over netlink: inside the instance's network namespace (entered through
/proc/PID/ns/net), `eth0`'s link index names its peer in the host; the host's device of that
index must be a veth whose own peer index is that `eth0`. The cross-check keeps a recycled index,
or an interface whose peer lives in a third namespace, from being taken for the instance's veth.

The namespace is entered by a short-lived thread of this process (setns(2) moves only the
calling thread), never by a forked child: pyroute2's `IPRoute(netns=...)` forks one and ends it
with SIGTERM, which a process with asyncio signal handlers (the agent) took for its own stop
signal; and forking a process that runs gRPC threads (the agent's etcd client) is unsafe.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

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
        links = in_namespace(f"/proc/{pid}/ns/net", lambda: _lookup(ifname))
    except (OSError, NetlinkError) as exc:
        # Mostly ENOENT (the process has exited); the message keeps the kernel's reason.
        raise NotFound(f"cannot enter process {pid}'s network namespace: {exc}") from exc
    if not links or links[0].get("link") is None:
        raise NotFound(f"process {pid} has no {ifname} with a peer")
    return int(links[0]["index"]), int(links[0].get("link"))


def _lookup(ifname: str) -> tuple[Any, ...]:
    with IPRoute() as inside:  # its netlink socket opens in the calling thread's namespace
        found = inside.link_lookup(ifname=ifname)
        return tuple(inside.get_links(found[0])) if found else ()


CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def in_namespace(path: str, work: Callable[[], T]) -> T:
    """Run `work` in a new thread that has entered the network namespace at `path`; its result
    or its error is this call's. The thread ends with `work`, so it never serves anything else
    from inside the namespace, even if it could not go back."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            namespace = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(namespace)
            finally:
                os.close(namespace)
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


def _links(host: IPRoute, index: int) -> tuple[Any, ...]:
    try:
        return tuple(host.get_links(index))
    except NetlinkError:  # ENODEV: the peer went away meanwhile
        return ()
