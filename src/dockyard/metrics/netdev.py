"""An instance's network traffic, read on the host from its container's veth peer
(/sys/class/net/VETH/statistics), turned round to the instance's point of view (what the veth
sends, the instance receives).

The veth is found once per container start (`veth_of`: the container's eth0 names its peer's
host ifindex in `iflink`, read through sysfs as the container sees it: no netlink, no setns,
unlike network/veth.py which the bandwidth part uses); a container with no such veth is read
from /proc/PID/net/dev instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")
PROC = Path("/proc")
STATS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped")


@dataclass(frozen=True)
class Traffic:
    """Counters of one instance's link, seen from the instance."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_drops: int
    tx_drops: int


def veth_of(pid: int, *, proc: Path = PROC, sys_net: Path = SYS_NET) -> str | None:
    """The host-side name of the veth whose peer is eth0 of process `pid`'s network namespace;
    None when there is none (no eth0, another kind of link, the process is gone)."""
    inside = proc / str(pid) / "root/sys/class/net/eth0"
    try:
        index, peer = (inside / "ifindex").read_text().strip(), (inside / "iflink").read_text()
        for device in sys_net.iterdir():
            # Both ends must name each other: an index alone could be another namespace's.
            if _read(device / "ifindex") == peer.strip() and _read(device / "iflink") == index:
                return device.name
    except OSError:
        return None
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def veth_traffic(veth: str, *, sys_net: Path = SYS_NET) -> Traffic | None:
    """The instance's traffic from its host-side veth, None when the veth is gone."""
    folder = sys_net / veth / "statistics"
    try:
        value = {name: int((folder / name).read_text()) for name in STATS}
    except (OSError, ValueError):
        return None
    # The veth's receive is the instance's transmit, and the other way round.
    return Traffic(
        rx_bytes=value["tx_bytes"],
        tx_bytes=value["rx_bytes"],
        rx_packets=value["tx_packets"],
        tx_packets=value["rx_packets"],
        rx_drops=value["tx_dropped"],
        tx_drops=value["rx_dropped"],
    )


def netns_traffic(pid: int, *, proc: Path = PROC) -> Traffic | None:
    """The instance's eth0 counters from inside its namespace (/proc/PID/net/dev)."""
    try:
        text = (proc / str(pid) / "net/dev").read_text()
    except OSError:
        return None
    return net_dev(text, "eth0")


def net_dev(text: str, device: str) -> Traffic | None:
    """`device`'s counters in /proc/net/dev's table (`name: rx bytes packets errs drop ...
    tx bytes packets errs drop ...`), None if it is not listed."""
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == device:
            f = [int(v) for v in rest.split()]
            return Traffic(
                rx_bytes=f[0], rx_packets=f[1], rx_drops=f[3],
                tx_bytes=f[8], tx_packets=f[9], tx_drops=f[11],
            )  # fmt: skip
    return None
