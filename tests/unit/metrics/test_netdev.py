"""An instance's traffic: from its host-side veth (turned round to the instance's view) or,
without one, from its namespace's /proc/PID/net/dev."""

from __future__ import annotations

from pathlib import Path

from dockyard.metrics.netdev import Traffic, net_dev, veth_of, veth_traffic

NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0:     736       8    0    2    0     0          0         0      420       5    0    1    0     0       0          0
"""  # noqa: E501 (copied from a container on this machine, drops added)


def test_net_dev_row_of_eth0() -> None:
    assert net_dev(NET_DEV, "eth0") == Traffic(736, 420, 8, 5, 2, 1)
    assert net_dev(NET_DEV, "eth1") is None


def fake_sys(tmp_path: Path) -> tuple[Path, Path]:
    proc, sys_net = tmp_path / "proc", tmp_path / "net"
    inside = proc / "42/root/sys/class/net/eth0"
    inside.mkdir(parents=True)
    (inside / "iflink").write_text("9491\n")
    (inside / "ifindex").write_text("2\n")
    for name, index, peer in (("lo", 1, 1), ("docker0", 3, 3), ("veth36ad72b", 9491, 2)):
        (sys_net / name / "statistics").mkdir(parents=True)
        (sys_net / name / "ifindex").write_text(f"{index}\n")
        (sys_net / name / "iflink").write_text(f"{peer}\n")
    stats = {"rx_bytes": 100, "tx_bytes": 2000, "rx_packets": 1, "tx_packets": 20,
             "rx_dropped": 3, "tx_dropped": 4}  # fmt: skip
    for name, value in stats.items():
        (sys_net / "veth36ad72b/statistics" / name).write_text(f"{value}\n")
    return proc, sys_net


def test_veth_found_by_eth0_iflink_and_read_from_the_instance_view(tmp_path: Path) -> None:
    proc, sys_net = fake_sys(tmp_path)
    assert veth_of(42, proc=proc, sys_net=sys_net) == "veth36ad72b"
    # What the veth received the instance sent.
    assert veth_traffic("veth36ad72b", sys_net=sys_net) == Traffic(
        rx_bytes=2000, tx_bytes=100, rx_packets=20, tx_packets=1, rx_drops=4, tx_drops=3
    )


def test_no_veth_for_a_gone_process_or_a_gone_link(tmp_path: Path) -> None:
    proc, sys_net = fake_sys(tmp_path)
    assert veth_of(43, proc=proc, sys_net=sys_net) is None
    (sys_net / "veth36ad72b/iflink").write_text("7\n")  # its peer is another namespace's eth0
    assert veth_of(42, proc=proc, sys_net=sys_net) is None
    assert veth_traffic("veth0000000", sys_net=sys_net) is None
