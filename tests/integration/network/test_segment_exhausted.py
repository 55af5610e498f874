"""A full segment, for real: more replicas than addresses. The instances that got addresses
run, the others wait with "segment X is exhausted (N of N used)" in the environment's status,
nothing is half made (no container without an address, no lease without its container), and
an address freed elsewhere lets the waiting instance start.

Real dockerd, etcd, the agent's IPAM driver (on this test's event loop: dockerd calls back into
it while engine calls run in threads), the controller's reconciler with DockerRuntime, and a
SQLite store.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.instance import LABEL_MANAGED, LABEL_SERVICE, LABEL_TEAM
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

from .web_on_segments import Web, ipam_agent, remove_segment_networks, seed_web

pytestmark = pytest.mark.docker


@dataclass
class Full(Web):
    ipam: Ipam
    engine: docker.APIClient
    segment: Segment

    def containers(self) -> dict[str, str]:
        """{container id: its address on the segment ('' for none)} of every container on the
        segment's network, stopped or half made ones included."""
        network = self.segment.docker_network
        found = {}
        for entry in self.engine.containers(all=True, filters={"network": network}):
            networks = self.engine.inspect_container(entry["Id"])["NetworkSettings"]["Networks"]
            found[str(entry["Id"])] = str((networks.get(network) or {}).get("IPAddress") or "")
        return found

    async def leases(self) -> dict[str, str | None]:
        """{address: the instance holding it (None: not a Dockyard instance)} of every address
        taken in the segment."""
        held = await self.ipam.book.leases(self.segment.name)
        return {str(lease.address): lease.holder.instance for lease in held}


@pytest.fixture
async def full(
    tmp_path: Path,
    docker_engine: docker.APIClient,
    etcd_server: EtcdServer,
    test_image: str,
    docker_team: str,
) -> AsyncIterator[Full]:
    tag = secrets.token_hex(3)
    # A /29 has five host addresses besides its gateway; three are reserved: two are left.
    segment = Segment.parse(
        name=f"x{tag}", cidr="10.92.0.0/29", gateway=None, environments=["test"],
        reserved=["10.92.0.2-10.92.0.4"],
    )  # fmt: skip
    ipam = Ipam.connect([etcd_server.endpoint], prefix=f"/full-{tag}", clock=utcnow)
    agent = ipam_agent(ipam, docker_engine, driver=f"dy-full-{tag}")
    await ipam.directory.publish(segment, [])
    await agent.server.start()
    await agent.run_pass()  # the agent makes the segment's network, as on every host
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    key = seed_web(db, team=docker_team, image=test_image, made=[segment])
    runtime = DockerRuntime()
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=1)
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings)
    try:
        yield Full(db, reconciler, docker_team, key, ipam, docker_engine, segment)
    finally:
        await asyncio.to_thread(remove_segment_networks, docker_engine, [segment])
        await agent.server.stop()
        runtime.close()
        await ipam.close()
        db.close()


async def hold_an_address(full: Full, image: str) -> str:
    """Another service's container on the segment, holding one of its two addresses."""

    def run() -> str:
        created = full.engine.create_container(
            image,
            labels={LABEL_MANAGED: "true", LABEL_TEAM: full.team, LABEL_SERVICE: "other"},
            host_config=full.engine.create_host_config(network_mode=full.segment.docker_network),
        )
        full.engine.start(created["Id"])
        return str(created["Id"])

    return await asyncio.to_thread(run)


@pytest.mark.timeout(120)
async def test_a_full_segment_makes_the_rest_wait_and_a_freed_address_lets_them_start(
    full: Full, test_image: str
) -> None:
    other = await hold_an_address(full, test_image)
    full.deploy(replicas=3)
    exhausted = f"segment {full.segment.name} is exhausted (2 of 2 used)"

    view = await full.converge(lambda v: v.status.ready == 1 and exhausted in v.status.message)
    assert view.status.phase != "failed", "a full segment is a wait, not a failed rollout"
    # Nothing half made: every container on the network has an address, every taken address
    # has its container, and the instance that runs is one of them.
    containers = await asyncio.to_thread(full.containers)
    assert sorted(containers.values()) == ["10.92.0.5", "10.92.0.6"], containers
    (running,) = view.instances
    leases = await full.leases()
    assert sorted(leases) == sorted(containers.values())
    assert leases[running.ip or ""] == running.id and running.health == "ready"

    # Another holder goes: its address is released, and one waiting instance takes it.
    await asyncio.to_thread(full.engine.remove_container, other, force=True)
    view = await full.converge(lambda v: v.status.ready == 2 and exhausted in v.status.message)
    assert sorted(i.ip or "" for i in view.instances) == ["10.92.0.5", "10.92.0.6"]
    assert len(await asyncio.to_thread(full.containers)) == 2

    assert await full.leases() == {i.ip: i.id for i in view.instances}

    # Asking for no more than the segment holds ends the wait; the two keep their addresses.
    full.deploy(replicas=2)
    view = await full.converge(lambda v: v.status.phase == "available")
    assert view.status.ready == 2 and exhausted not in view.status.message
    assert await full.leases() == {i.ip: i.id for i in view.instances}
    assert len(await asyncio.to_thread(full.containers)) == 2
