"""The Docker IPAM driver for real: dockerd asks the agent's socket for addresses of a segment's
network, instances get them with their owner recorded, and release follows removal."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import docker
import pytest

from dockyard.agent.ipam import IpamAgent, IpamAgentConfig
from dockyard.domain.environment import Environment
from dockyard.domain.errors import RuntimeFailure, Unavailable
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.segment import FixedAddress, Segment
from dockyard.domain.spec import ServiceSpec
from dockyard.network.ipam import pool_of
from dockyard.network.ipam.client import Ipam
from dockyard.network.segment_networks import VlanUnsupported, check_vlan, vlan_support
from dockyard.runtimes.docker import DockerRuntime
from tests.support.etcd import EtcdServer

pytestmark = pytest.mark.docker


@dataclass
class Host:
    agent: IpamAgent
    ipam: Ipam
    segment: Segment
    runtime: DockerRuntime
    engine: docker.APIClient


def now() -> datetime:
    return datetime.now(UTC)


async def make_host(
    engine: docker.APIClient,
    endpoint: str,
    *,
    cidr: str,
    fixed: list[FixedAddress] | None = None,
    timeout_s: float = 2.0,
) -> Host:
    tag = secrets.token_hex(3)
    ipam = Ipam.connect([endpoint], prefix=f"/dt-{tag}", clock=now, timeout_s=timeout_s)
    segment = Segment.parse(name=f"t{tag}", cidr=cidr, gateway=None, environments=["test"])
    await ipam.directory.publish(segment, fixed or [])
    config = IpamAgentConfig(
        host="host-a",
        socket=Path(f"/run/docker/plugins/dy-test-{tag}.sock"),
        driver_name=f"dy-test-{tag}",
        grace=timedelta(seconds=0),
        interval_s=3600,
    )
    agent = IpamAgent(ipam, engine, config=config, clock=now)
    await agent.server.start()
    await agent.run_pass()  # makes the segment's Docker network
    return Host(agent, ipam, segment, DockerRuntime(), engine)


async def close_host(host: Host) -> None:
    """Remove what the test made. Engine calls run in a thread: dockerd calls back into the
    driver, which answers on this very event loop."""

    def remove() -> None:
        network = host.segment.docker_network
        for entry in host.engine.containers(all=True, filters={"network": network}):
            host.engine.remove_container(entry["Id"], force=True)
        host.engine.remove_network(network)

    try:
        await asyncio.to_thread(remove)
    finally:
        await host.agent.server.stop()
        host.runtime.close()
        await host.ipam.close()


@pytest.fixture
async def host(
    docker_engine: docker.APIClient, test_image: str, etcd_server: EtcdServer, docker_team: str
) -> AsyncIterator[Host]:
    # Depends on docker_team so that it is torn down first: removing a container needs the
    # driver answering on this event loop, which docker_team's (sync) teardown does not run.
    made = await make_host(docker_engine, etcd_server.endpoint, cidr="10.77.0.0/28")
    yield made
    await close_host(made)


def spec_for(host: Host, team: str, instance: str, image: str) -> InstanceSpec:
    return InstanceSpec(
        team=team,
        service="web",
        env=Environment.TEST,
        revision=1,
        instance_id=InstanceId(instance),
        spec=ServiceSpec(image=image),
        network=host.segment.docker_network,
    )


async def test_an_instance_gets_a_segment_address_with_its_owner_recorded(
    host: Host, docker_team: str, test_image: str
) -> None:
    observed = await host.runtime.start(spec_for(host, docker_team, "0123456789", test_image))
    assert observed.ip is not None and IPv4Address(observed.ip) in host.segment.cidr
    lease = await host.ipam.book.lease(host.segment.name, IPv4Address(observed.ip))
    assert lease is not None
    holder = lease.holder
    assert (holder.instance, holder.container, holder.team, holder.service, holder.env) == (
        "0123456789",
        observed.runtime_id,
        docker_team,
        "web",
        "test",
    )
    assert holder.host == "host-a" and holder.mac == "02:01:23:45:67:89"
    await host.runtime.destroy(observed)  # Docker's ReleaseAddress frees it at once
    assert await host.ipam.book.lease(host.segment.name, IPv4Address(observed.ip)) is None
    history = await host.ipam.book.history(owner="0123456789")
    assert [(r.reason, str(r.address)) for r in history] == [("released", observed.ip)]


async def test_a_service_instance_takes_its_fixed_address_first(
    docker_engine: docker.APIClient, etcd_server: EtcdServer, docker_team: str, test_image: str
) -> None:
    fixed = FixedAddress(docker_team, "web", Environment.TEST, IPv4Address("10.78.0.9"), "")
    host = await make_host(docker_engine, etcd_server.endpoint, cidr="10.78.0.0/28", fixed=[fixed])
    try:
        first = await host.runtime.start(spec_for(host, docker_team, "aaaaaaaaa1", test_image))
        second = await host.runtime.start(spec_for(host, docker_team, "aaaaaaaaa2", test_image))
        assert first.ip == "10.78.0.9" and second.ip != "10.78.0.9"
        await host.runtime.destroy(first)  # scaled down and up again: the fixed one comes back
        third = await host.runtime.start(spec_for(host, docker_team, "aaaaaaaaa3", test_image))
        assert third.ip == "10.78.0.9"
    finally:
        await close_host(host)


async def test_an_address_whose_container_is_gone_is_collected_but_a_live_one_never(
    host: Host, docker_team: str, test_image: str
) -> None:
    alive = await host.runtime.start(spec_for(host, docker_team, "bbbbbbbbb1", test_image))
    doomed = await host.runtime.start(spec_for(host, docker_team, "bbbbbbbbb2", test_image))
    # Removal that Docker could not report (the agent was down): the key stays behind. It is
    # written back as it was rather than by stopping the driver: Docker then retries the
    # release against the dead socket for a minute, and the end state is the same.
    held = await host.ipam.book.lease(host.segment.name, IPv4Address(doomed.ip or ""))
    assert held is not None
    await host.runtime.destroy(doomed)
    segment, fixed = await host.ipam.directory.load(host.segment.name)
    lease = await host.ipam.book.allocate(
        pool_of(segment, fixed), held.holder, requested=held.address
    )
    assert lease.holder.container == doomed.runtime_id
    # The live one's record loses its container id (as after a lookup failure): still kept.
    live = await host.ipam.book.lease(host.segment.name, IPv4Address(alive.ip or ""))
    assert live is not None
    await host.ipam.book.rebind(live, live.holder.with_container("not-a-container"))
    assert await host.agent.run_pass() == 1
    assert await host.ipam.book.lease(host.segment.name, lease.address) is None
    kept = await host.ipam.book.lease(host.segment.name, IPv4Address(alive.ip or ""))
    assert kept is not None and kept.holder.container == alive.runtime_id  # bound again
    history = await host.ipam.book.history(owner="bbbbbbbbb2")
    # Docker's release (the one the test wrote back as lost), then the collector's.
    assert [r.reason for r in history] == ["released", "collected"]


async def test_etcd_down_makes_new_instances_wait_and_leaves_running_ones_alone(
    docker_engine: docker.APIClient, own_etcd: EtcdServer, docker_team: str, test_image: str
) -> None:
    host = await make_host(docker_engine, own_etcd.endpoint, cidr="10.79.0.0/28", timeout_s=1.0)
    try:
        running = await host.runtime.start(spec_for(host, docker_team, "ccccccccc1", test_image))
        own_etcd.stop()
        with pytest.raises(Unavailable, match="IPAM unavailable"):
            await host.runtime.start(spec_for(host, docker_team, "ccccccccc2", test_image))
        assert await host.agent.run_pass() == 0  # the pass survives, the driver too
        inspected = docker_engine.inspect_container(running.runtime_id)
        assert inspected["State"]["Running"]
        own_etcd.start()
        for _ in range(50):
            try:
                again = await host.runtime.start(
                    spec_for(host, docker_team, "ccccccccc3", test_image)
                )
                break
            except Unavailable:
                await asyncio.sleep(0.2)
        else:
            pytest.fail("allocation did not resume after etcd came back")
        assert again.ip is not None and again.ip != running.ip
    finally:
        if own_etcd.pid is None:
            own_etcd.start()
        await close_host(host)


def test_a_vlan_segment_is_refused_naming_the_missing_kernel_feature() -> None:
    segment = Segment.parse(
        name="v1", cidr="10.80.0.0/24", gateway=None, environments=["test"], vlan=42
    )
    if vlan_support() is None:
        pytest.skip("this kernel has 802.1Q: the VLAN path must be tested with a real uplink")
    with pytest.raises(VlanUnsupported, match=r"no 802\.1Q VLAN support") as caught:
        check_vlan(segment)
    assert "Unknown device type" in caught.value.message


def test_starting_on_a_missing_segment_network_says_the_agent_makes_it(
    docker_engine: docker.APIClient, docker_team: str, test_image: str
) -> None:
    runtime = DockerRuntime()
    spec = InstanceSpec(
        team=docker_team,
        service="web",
        env=Environment.TEST,
        revision=1,
        instance_id=InstanceId("ddddddddd1"),
        spec=ServiceSpec(image=test_image),
        network="dyseg-nosuch",
    )
    with pytest.raises(RuntimeFailure, match="the agent"):
        asyncio.run(runtime.start(spec))
    runtime.close()


async def test_an_address_freed_while_its_host_was_cut_off_is_held_again_by_its_agent(
    docker_engine: docker.APIClient, etcd_server: EtcdServer, docker_team: str, test_image: str
) -> None:
    host = await make_host(docker_engine, etcd_server.endpoint, cidr="10.82.0.0/28")
    try:
        running = await host.runtime.start(spec_for(host, docker_team, "abcabcabc1", test_image))
        address = IPv4Address(running.ip or "")
        lease = await host.ipam.book.lease(host.segment.name, address)
        assert lease is not None
        # Another agent judged host-a gone (it was cut off from etcd) and freed its address.
        assert await host.ipam.book.release(lease, reason="host-gone")
        await host.agent.run_pass()  # the grace period is 0 here: held again at once
        again = await host.ipam.book.lease(host.segment.name, address)
        assert again is not None
        assert (again.holder.host, again.holder.container, again.holder.instance) == (
            "host-a",
            running.runtime_id,
            "abcabcabc1",
        )
    finally:
        await close_host(host)
