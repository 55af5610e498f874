"""The host's IPAM driver gone, for real: while `dockyard agent` is down, Docker cannot reach
the driver's socket, so no new instance can get an address. Starts wait with the reason
(`IPAM driver unavailable on host ...`), the rollout does not fail however long the agent
stays away (past the progress deadline included), nothing is half made, and once the driver
serves again the rollout completes by itself with every address held once, by its instance.

Real dockerd, etcd, this test's own IPAM driver on its own socket and etcd prefix (never the
platform's), the controller's reconciler with DockerRuntime, and a SQLite store.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from dockyard.agent.ipam import IpamAgent
from dockyard.agent.ipam_server import DriverServer
from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store import environments
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

from .web_on_segments import ADMIN, Web, ipam_agent, remove_segment_networks, seed_web

pytestmark = pytest.mark.docker

HOST = "host-under-test"
DEADLINE_S = 10.0


@dataclass
class Driverless(Web):
    ipam: Ipam
    agent: IpamAgent
    engine: docker.APIClient
    segment: Segment
    serving: DriverServer | None = None

    async def start_driver(self) -> None:
        """The agent's driver serves its socket (again: a server is good for one run only)."""
        if self.serving is None:
            self.serving = DriverServer(self.agent.driver, socket=self.agent.server.socket)
            await self.serving.start()

    async def stop_driver(self) -> None:
        """The agent is gone, its socket with it."""
        if self.serving is not None:
            await self.serving.stop()
            self.serving = None

    def addresses(self) -> list[str]:
        """The address of every container on the segment's network, '' for one without."""
        network = self.segment.docker_network
        found = []
        for entry in self.engine.containers(all=True, filters={"network": network}):
            networks = self.engine.inspect_container(entry["Id"])["NetworkSettings"]["Networks"]
            found.append(str((networks.get(network) or {}).get("IPAddress") or ""))
        return sorted(found)

    async def leases(self) -> dict[str, str | None]:
        held = await self.ipam.book.leases(self.segment.name)
        return {str(lease.address): lease.holder.instance for lease in held}


@pytest.fixture
async def driverless(
    tmp_path: Path,
    docker_engine: docker.APIClient,
    etcd_server: EtcdServer,
    test_image: str,
    docker_team: str,
) -> AsyncIterator[Driverless]:
    tag = secrets.token_hex(3)
    segment = Segment.parse(
        name=f"g{tag}", cidr="10.93.0.0/28", gateway=None, environments=["test"]
    )
    ipam = Ipam.connect([etcd_server.endpoint], prefix=f"/gone-{tag}", clock=utcnow)
    agent = ipam_agent(ipam, docker_engine, driver=f"dy-gone-{tag}")
    await ipam.directory.publish(segment, [])
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    key = seed_web(db, team=docker_team, image=test_image, made=[segment])
    runtime = DockerRuntime(host=HOST)
    settings = ControllerSettings(progress_deadline_s=DEADLINE_S, first_ready_window_s=1)
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings)
    web = Driverless(db, reconciler, docker_team, key, ipam, agent, docker_engine, segment)
    await web.start_driver()
    await agent.run_pass()  # the agent makes the segment's network, as on every host
    try:
        yield web
    finally:
        await web.start_driver()  # dockerd releases the addresses through it on removal
        await asyncio.to_thread(remove_segment_networks, docker_engine, [segment])
        await web.stop_driver()
        runtime.close()
        await ipam.close()
        db.close()


@pytest.mark.timeout(240)
async def test_starts_wait_while_the_ipam_driver_is_gone_and_resume_when_it_is_back(
    driverless: Driverless,
) -> None:
    web = driverless
    web.deploy(replicas=1)
    await web.converge()
    await web.stop_driver()

    web.deploy(replicas=3)
    waiting = f"IPAM driver unavailable on host {HOST}"
    view = await web.converge(lambda v: waiting in v.status.message, timeout_s=120)
    assert view.status.phase == "unavailable", view.status
    # The agent stays away past the progress deadline, the controller trying all along.
    loop = asyncio.get_running_loop()
    waiting_since = loop.time()
    while loop.time() < waiting_since + DEADLINE_S + 1:
        view = await web.converge(lambda v: waiting in v.status.message, timeout_s=120)
        assert view.status.phase == "unavailable", view.status
    # Nothing half made: the one instance that ran before is the only container.
    assert len(await asyncio.to_thread(web.addresses)) == 1
    assert await web.leases() == {i.ip: i.id for i in view.instances}

    await web.start_driver()  # the agent is back
    view = await web.converge(lambda v: v.status.phase == "available", timeout_s=120)
    assert view.status.ready == 3
    addresses = await asyncio.to_thread(web.addresses)
    assert "" not in addresses and len(set(addresses)) == 3
    assert await web.leases() == {i.ip: i.id for i in view.instances}
    with web.db.session() as session:
        kinds = [e.kind for e in environments.events(session, ADMIN, team=web.team, service="web")]
    assert "failed" not in kinds and "start-failed" not in kinds, kinds
