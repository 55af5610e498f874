"""Two tiny segments serving one environment, for real: the reconciler makes each segment's
Docker network, fills the first, spills into the second, and with both full waits naming each.

Real dockerd, etcd, the agent's IPAM driver (on this test's event loop: dockerd calls back into
it while engine calls run in threads) and a SQLite store. Also the reconciler's network maker
alone: a VLAN segment's network is the agent's to make, and a silent engine is Unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from dockyard.agent.ipam import IpamAgent, IpamAgentConfig
from dockyard.controller.config import ControllerSettings
from dockyard.controller.networks import DockerSegmentNetworks
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Exhausted, RuntimeFailure, Unavailable
from dockyard.domain.principal import Principal
from dockyard.domain.segment import Segment
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker.driver import DEFAULT_SOCKET, DockerRuntime
from dockyard.store import environments, releases, segments, services, status, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import EnvironmentView
from tests.support.etcd import EtcdServer

pytestmark = pytest.mark.docker
ADMIN = Principal(token_id="admin", name="admin", team=None)
TEST = Environment.TEST


@dataclass
class Spill:
    db: Database
    reconciler: Reconciler
    team: str
    key: EnvKey
    first: Segment
    second: Segment

    def deploy(self, replicas: int) -> None:
        with self.db.session() as s:
            releases.deploy(
                s, Change(ADMIN, utcnow()), team=self.team, service="web", env=TEST,
                replicas=replicas,
            )  # fmt: skip

    def view(self) -> EnvironmentView:
        with self.db.session() as s:
            return environments.environments(s, ADMIN, team=self.team, service="web", only=TEST)[0]

    async def converge(self, timeout_s: float = 40) -> EnvironmentView:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            again = await self.reconciler.reconcile(self.key)
            view = self.view()
            if view.status.phase == "available":
                return view
            await asyncio.sleep(min(again or 0.2, 0.5))
        raise AssertionError(f"not available in {timeout_s}s: {self.view().status}")


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
    config = IpamAgentConfig(
        host="host-a", socket=Path(f"/run/docker/plugins/{driver}.sock"), driver_name=driver,
        grace=timedelta(seconds=0), interval_s=3600,
    )  # fmt: skip
    agent = IpamAgent(ipam, docker_engine, config=config, clock=utcnow)
    await agent.server.start()  # only the driver: the reconciler makes the networks
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    spec = ServiceSpec(
        image=test_image,
        ports=(Port(8080),),
        health_check=HealthCheck(http_path="/health", interval_s=1, timeout_s=1, retries=2),
        stop_grace_s=1,
    )
    with db.session() as s:
        teams.create_team(s, ADMIN, name=docker_team, description="", now=utcnow())
        services.create_service(s, ADMIN, team=docker_team, name="web", spec=spec, now=utcnow())
        for segment in (first, second):  # created in this order: the first is tried first
            segments.create_segment(s, ADMIN, segment=segment, now=utcnow())
        key = status.key_for(s, team=docker_team, service="web", env=TEST)
    assert key is not None
    for segment in (first, second):
        await ipam.directory.publish(segment, [])
    runtime = DockerRuntime()
    networks = DockerSegmentNetworks(base_url=DEFAULT_SOCKET, driver=driver)
    settings = ControllerSettings(progress_deadline_s=30, first_ready_window_s=1)
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings, networks=networks)
    try:
        yield Spill(db, reconciler, docker_team, key, first, second)
    finally:
        await asyncio.to_thread(_remove, docker_engine, [first, second])
        await agent.server.stop()
        networks.close()
        runtime.close()
        await ipam.close()
        db.close()


def _remove(engine: docker.APIClient, made: list[Segment]) -> None:
    """Containers first (dockerd asks the driver to release their addresses), then networks."""
    for segment in made:
        for entry in engine.containers(all=True, filters={"network": segment.docker_network}):
            engine.remove_container(entry["Id"], force=True)
        with contextlib.suppress(NotFound):
            engine.remove_network(segment.docker_network)


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
