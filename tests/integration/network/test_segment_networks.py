"""Segment networks on a real host: a deleted segment's Docker network is removed by the agent
once no container is attached, never while one is; VLAN segments get their bridge on
`UPLINK.VID`.

The VLAN tests need a kernel with 802.1Q. This machine's has none (REFERENCE.md), so they skip
here with the probe's own words: the VLAN path has not run on this machine. What does run here
is everything around it: the netlink reading that refuses an interface of the wanted name that
is something else, and a missing uplink.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest

from dockyard.agent.ipam import IpamAgent, IpamAgentConfig
from dockyard.agent.segment_sweep import SegmentSweeper
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.instance import LABEL_MANAGED, LABEL_TEAM
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.network.segment_networks import (
    LABEL_SEGMENT,
    ensure_segment_network,
    vlan_support,
)
from dockyard.network.vlan import Attachment, Link, VlanLinks
from tests.support.etcd import EtcdServer

pytestmark = pytest.mark.docker


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Host:
    """One agent's IPAM driver and sweeper, on an etcd prefix and plugin socket of its own."""

    agent: IpamAgent
    sweeper: SegmentSweeper
    ipam: Ipam
    engine: docker.APIClient
    driver: str
    tag: str

    def network_exists(self, segment: Segment) -> bool:
        try:
            self.engine.inspect_network(segment.docker_network)
            return True
        except docker.errors.NotFound:
            return False


@pytest.fixture
async def host(docker_engine: docker.APIClient, etcd_server: EtcdServer) -> AsyncIterator[Host]:
    tag = secrets.token_hex(3)
    ipam = Ipam.connect([etcd_server.endpoint], prefix=f"/sn-{tag}", clock=now)
    driver = f"dy-sn-{tag}"
    config = IpamAgentConfig(
        host="host-a",
        socket=Path(f"/run/docker/plugins/{driver}.sock"),
        driver_name=driver,
        grace=timedelta(seconds=0),
        interval_s=3600,
    )
    agent = IpamAgent(ipam, docker_engine, config=config, clock=now)
    sweeper = SegmentSweeper(
        ipam.directory, docker_engine, clock=now, driver=driver, grace=timedelta(0)
    )
    await agent.server.start()
    try:
        yield Host(agent, sweeper, ipam, docker_engine, driver, tag)
    finally:
        await agent.server.stop()
        await ipam.close()


async def attach_container(host: Host, segment: Segment, team: str, image: str) -> str:
    """A container on the segment's network (run in a thread: dockerd calls the driver back)."""

    def run() -> str:
        created = host.engine.create_container(
            image,
            labels={LABEL_MANAGED: "true", LABEL_TEAM: team},
            host_config=host.engine.create_host_config(network_mode=segment.docker_network),
        )
        host.engine.start(created["Id"])
        return str(created["Id"])

    return await asyncio.to_thread(run)


async def test_a_deleted_segments_network_goes_once_no_container_is_attached(
    host: Host, docker_team: str, test_image: str
) -> None:
    gone = Segment.parse(
        name=f"g{host.tag}", cidr="10.91.0.0/29", gateway=None, environments=["test"]
    )
    kept = Segment.parse(
        name=f"k{host.tag}", cidr="10.91.1.0/29", gateway=None, environments=["test"]
    )
    for segment in (gone, kept):
        await host.ipam.directory.publish(segment, [])
    await host.agent.run_pass()  # makes both networks
    assert host.network_exists(gone) and host.network_exists(kept)
    container = await attach_container(host, gone, docker_team, test_image)
    await host.ipam.directory.withdraw(gone.name)  # the segment is deleted

    assert await host.sweeper.run_pass() == []  # a running container is attached
    await asyncio.to_thread(host.engine.stop, container, timeout=1)
    assert await host.sweeper.run_pass() == []  # a stopped one still needs it to start again
    assert host.network_exists(gone)

    await asyncio.to_thread(host.engine.remove_container, container, force=True)
    assert await host.sweeper.run_pass() == [gone.name]
    assert not host.network_exists(gone)
    assert host.network_exists(kept), "a segment etcd still has keeps its network"
    assert await host.sweeper.run_pass() == []
    await asyncio.to_thread(host.engine.remove_network, kept.docker_network)


async def test_networks_served_by_another_ipam_driver_are_not_swept(host: Host) -> None:
    # Another agent's (another Dockyard, or another test on this engine): not this agent's call.
    name = f"dyseg-o{host.tag}"
    host.engine.create_network(name, driver="bridge", labels={LABEL_SEGMENT: f"o{host.tag}"})
    try:
        assert await host.sweeper.run_pass() == []
        host.engine.inspect_network(name)
    finally:
        host.engine.remove_network(name)


# -- VLAN ----------------------------------------------------------------------------------------


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def require_8021q() -> None:
    reason = vlan_support()
    if reason is not None:
        pytest.skip(f"this kernel has no 802.1Q, so the VLAN path cannot run here: {reason}")


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace of the test's own, with a veth pair up0/up1 as the uplink."""
    name = f"dyvt{secrets.token_hex(3)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "add", "up0", "type", "veth", "peer", "name", "up1")
        ip("-n", name, "link", "add", "br0", "type", "bridge")
        yield name
    finally:
        ip("netns", "del", name, check=False)


WANT = Attachment(segment="off1", uplink="up0", vlan=42, bridge="br0")


def test_an_interface_with_the_sub_interfaces_name_that_is_no_vlan_is_refused(
    netns: str,
) -> None:
    ip("-n", netns, "link", "add", "up0.42", "type", "veth", "peer", "name", "x1")
    with VlanLinks(netns=netns) as links, pytest.raises(Conflict, match="is a veth interface"):
        links.attach(WANT)
    assert links_in(netns)["up0.42"].kind == "veth"  # left as it was


def test_a_missing_uplink_is_refused_before_anything_is_made(netns: str) -> None:
    with VlanLinks(netns=netns) as links, pytest.raises(NotFound, match="uplink eth9"):
        links.attach(Attachment(segment="off1", uplink="eth9", vlan=42, bridge="br0"))
    assert sorted(links_in(netns)) == ["br0", "lo", "up0", "up1"]


def links_in(netns: str) -> dict[str, Link]:
    with VlanLinks(netns=netns) as links:
        return links.links()


def test_the_sub_interface_is_made_once_enslaved_up_and_detached_with_its_segment(
    netns: str,
) -> None:
    require_8021q()
    with VlanLinks(netns=netns) as links:
        assert len(links.attach(WANT)) == 4
        assert links.attach(WANT) == ()  # idempotent
        made = links.links()["up0.42"]
        assert (made.kind, made.vlan, made.parent, made.master, made.up) == (
            "vlan",
            42,
            "up0",
            "br0",
            True,
        )
        assert [step.name for step in links.detach("off1")] == ["up0.42"]
        assert "up0.42" not in links.links()


def test_a_sub_interface_with_another_vlan_id_is_refused_not_reused(netns: str) -> None:
    require_8021q()
    ip("-n", netns, "link", "add", "link", "up0", "name", "up0.42", "type", "vlan", "id", "43")
    with VlanLinks(netns=netns) as links, pytest.raises(Conflict, match="is VLAN 43 on up0"):
        links.attach(WANT)


async def test_a_vlan_segments_docker_bridge_sits_on_uplink_dot_vid_until_it_is_deleted(
    host: Host,
) -> None:
    require_8021q()
    uplink = f"dyu{host.tag[:4]}"
    await asyncio.to_thread(ip, "link", "add", uplink, "type", "veth", "peer", "name", uplink + "p")
    segment = Segment.parse(
        name=f"v{host.tag}", cidr="10.91.2.0/29", gateway=None, environments=["test"], vlan=42
    )
    try:
        await asyncio.to_thread(
            ensure_segment_network, host.engine, segment, driver=host.driver, uplink=uplink
        )
        sub = links_here()[f"{uplink}.42"]
        assert (sub.vlan, sub.parent, sub.master, sub.up) == (42, uplink, segment.bridge, True)
        await host.ipam.directory.publish(segment, [])
        assert await host.sweeper.run_pass() == []
        await host.ipam.directory.withdraw(segment.name)
        assert await host.sweeper.run_pass() == [segment.name]
        assert f"{uplink}.42" not in links_here() and not host.network_exists(segment)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            host.engine.remove_network(segment.docker_network)
        await asyncio.to_thread(ip, "link", "del", uplink, check=False)


def links_here() -> dict[str, Link]:
    with VlanLinks() as links:
        return links.links()
