"""An instance restarted in place keeps its address, for real: its container exits, the
controller starts the same container again after its back-off, and the IPAM driver hands it
back the address it held (the MAC names the instance), though the segment's next free address
has moved on meanwhile.

Real dockerd, etcd, this test's own IPAM driver on its own socket and etcd prefix, the
controller's reconciler with DockerRuntime, and a SQLite store.
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
from dockyard.domain.instance import LABEL_INSTANCE
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

from .web_on_segments import Web, ipam_agent, remove_segment_networks, seed_web

pytestmark = pytest.mark.docker


@dataclass
class OnSegment(Web):
    ipam: Ipam
    engine: docker.APIClient
    segment: Segment

    async def leases(self) -> dict[str, str | None]:
        held = await self.ipam.book.leases(self.segment.name)
        return {str(lease.address): lease.holder.instance for lease in held}


@pytest.fixture
async def web(
    tmp_path: Path,
    docker_engine: docker.APIClient,
    etcd_server: EtcdServer,
    test_image: str,
    docker_team: str,
) -> AsyncIterator[OnSegment]:
    tag = secrets.token_hex(3)
    segment = Segment.parse(
        name=f"r{tag}", cidr="10.94.0.0/28", gateway=None, environments=["test"]
    )
    ipam = Ipam.connect([etcd_server.endpoint], prefix=f"/keep-{tag}", clock=utcnow)
    agent = ipam_agent(ipam, docker_engine, driver=f"dy-keep-{tag}")
    await ipam.directory.publish(segment, [])
    await agent.server.start()
    await agent.run_pass()
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    key = seed_web(db, team=docker_team, image=test_image, made=[segment])
    runtime = DockerRuntime()
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=1)
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings)
    try:
        yield OnSegment(db, reconciler, docker_team, key, ipam, docker_engine, segment)
    finally:
        await asyncio.to_thread(remove_segment_networks, docker_engine, [segment])
        await agent.server.stop()
        runtime.close()
        await ipam.close()
        db.close()


@pytest.mark.timeout(120)
async def test_a_crashed_instance_restarted_in_place_keeps_its_address(web: OnSegment) -> None:
    web.deploy(replicas=2)
    view = await web.converge()
    victim = min(view.instances, key=lambda i: i.ip or "")
    address = victim.ip
    assert address is not None
    (container,) = await asyncio.to_thread(
        web.engine.containers, filters={"label": f"{LABEL_INSTANCE}={victim.id}"}
    )
    await asyncio.to_thread(web.engine.kill, container["Id"])  # it crashes

    view = await web.converge(
        lambda v: any(i.id == victim.id and i.restarts == 1 and i.health == "ready"
                      for i in v.instances),
    )  # fmt: skip
    (again,) = [i for i in view.instances if i.id == victim.id]
    assert again.ip == address, "restarted in place, it came back on another address"
    assert await web.leases() == {i.ip: i.id for i in view.instances}
