"""Two tiny segments serving one environment, for real: the reconciler makes each segment's
Docker network, fills the first, spills into the second, and with both full waits naming each.

Real dockerd, etcd, the agent's IPAM driver (on this test's event loop: dockerd calls back into
it while engine calls run in threads) and a SQLite store. Also the reconciler's network maker
alone: a VLAN segment's network is the agent's to make, and a silent engine is Unavailable.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

import docker
import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.networks import DockerSegmentNetworks
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.errors import Exhausted, RuntimeFailure, Unavailable
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker.driver import DEFAULT_SOCKET, DockerRuntime
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

from .web_on_segments import Web, ipam_agent, remove_segment_networks, seed_web

pytestmark = pytest.mark.docker


@dataclass
class Spill(Web):
    first: Segment
    second: Segment


@pytest.fixture
async def spill(
    tmp_path: Path,
    docker_engine: docker.APIClient,
    etcd_server: EtcdServer,
    test_image: str,
    docker_team: str,
) -> AsyncIterator[Spill]:
    tag = secrets.token_hex(3)
    # A /30 has one address for instances, a /29 five (network, gateway, broadcast excluded).
    first = Segment.parse(name=f"a{tag}", cidr="10.83.0.0/30", gateway=None, environments=["test"])
    second = Segment.parse(name=f"b{tag}", cidr="10.83.0.8/29", gateway=None, environments=["test"])
    ipam = Ipam.connect([etcd_server.endpoint], prefix=f"/spill-{tag}", clock=utcnow)
    driver = f"dy-spill-{tag}"
    agent = ipam_agent(ipam, docker_engine, driver=driver)
    await agent.server.start()  # only the driver: the reconciler makes the networks
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    key = seed_web(db, team=docker_team, image=test_image, made=[first, second])
    for segment in (first, second):
        await ipam.directory.publish(segment, [])
    runtime = DockerRuntime()
    networks = DockerSegmentNetworks(base_url=DEFAULT_SOCKET, driver=driver)
    settings = ControllerSettings(progress_deadline_s=30, first_ready_window_s=1)
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings, networks=networks)
    try:
        yield Spill(db, reconciler, docker_team, key, first, second)
    finally:
        await asyncio.to_thread(remove_segment_networks, docker_engine, [first, second])
        await agent.server.stop()
        networks.close()
        runtime.close()
        await ipam.close()
        db.close()


@pytest.mark.timeout(120)
async def test_instances_spill_into_the_second_segment_and_wait_when_both_are_full(
    spill: Spill,
) -> None:
    spill.deploy(replicas=3)
    view = await spill.converge()
    addresses = sorted(IPv4Address(i.ip or "") for i in view.instances)
    assert [a in spill.first.cidr for a in addresses] == [True, False, False], addresses
    assert all(a in spill.second.cidr for a in addresses[1:]), addresses

    spill.deploy(replicas=7)  # 1 + 5 addresses in all: one instance cannot start
    with pytest.raises(Exhausted):
        for _ in range(5):  # the first passes may still be starting the fourth to sixth
            await spill.reconciler.reconcile(spill.key)
            await asyncio.sleep(0.2)
    view = spill.view()
    assert view.status.message.startswith(
        f"all 2 segments serving test are exhausted: {spill.first.name} (1 of 1 used), "
        f"{spill.second.name} (5 of 5 used)"
    ), view.status.message
    assert len(view.instances) == 6


async def test_a_vlan_segments_network_is_left_to_the_agent_and_its_absence_named(
    docker_engine: docker.APIClient,
) -> None:
    segment = Segment.parse(
        name=f"v{secrets.token_hex(3)}", cidr="10.83.0.64/29", gateway=None,
        environments=["test"], vlan=42,
    )  # fmt: skip
    networks = DockerSegmentNetworks(base_url=DEFAULT_SOCKET)
    try:
        with pytest.raises(RuntimeFailure, match="the agent on the engine's host makes it"):
            await networks.ensure(segment)
    finally:
        networks.close()
    assert docker_engine.networks(names=[segment.docker_network]) == []


async def test_an_engine_that_does_not_answer_is_unavailable_not_a_refused_segment(
    tmp_path: Path,
) -> None:
    segment = Segment.parse(name="quiet", cidr="10.83.0.72/29", gateway=None, environments=["test"])
    networks = DockerSegmentNetworks(base_url=f"unix://{tmp_path / 'none.sock'}", timeout_s=2)
    with pytest.raises(Unavailable) as caught:
        await networks.ensure(segment)
    assert not isinstance(caught.value, Exhausted)
