"""One service `web` in `test` on segments, driven by a real reconciler pass by pass: shared by
the exhausted-segment and spill-over tests, which differ in their segments and what they check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import docker
from docker.errors import NotFound

from dockyard.agent.ipam import IpamAgent, IpamAgentConfig
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.domain.principal import Principal
from dockyard.domain.segment import Segment
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.network.ipam.client import Ipam
from dockyard.store import environments, releases, segments, services, status, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import EnvironmentView

ADMIN = Principal(token_id="admin", name="admin", team=None)
TEST = Environment.TEST


@dataclass
class Web:
    db: Database
    reconciler: Reconciler
    team: str
    key: EnvKey

    def deploy(self, replicas: int) -> None:
        with self.db.session() as s:
            releases.deploy(
                s, Change(ADMIN, utcnow()), team=self.team, service="web", env=TEST,
                replicas=replicas,
            )  # fmt: skip

    def view(self) -> EnvironmentView:
        with self.db.session() as s:
            return environments.environments(s, ADMIN, team=self.team, service="web", only=TEST)[0]

    async def converge(
        self,
        until: Callable[[EnvironmentView], bool] = lambda v: v.status.phase == "available",
        timeout_s: float = 40,
    ) -> EnvironmentView:
        """Run passes as the manager would (a wait is raised as Unavailable) until `until`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            try:
                again = await self.reconciler.reconcile(self.key)
            except Unavailable:
                again = 0.3
            view = self.view()
            if until(view):
                return view
            await asyncio.sleep(min(again or 0.2, 0.3))
        raise AssertionError(f"not reached in {timeout_s}s: {self.view().status}")


def seed_web(db: Database, *, team: str, image: str, made: Iterable[Segment]) -> EnvKey:
    """Team, service `web` (HTTP health check, quick stop) and the segments, in this order."""
    spec = ServiceSpec(
        image=image,
        ports=(Port(8080),),
        health_check=HealthCheck(http_path="/health", interval_s=1, timeout_s=1, retries=2),
        stop_grace_s=1,
    )
    with db.session() as s:
        teams.create_team(s, ADMIN, name=team, description="", now=utcnow())
        services.create_service(s, ADMIN, team=team, name="web", spec=spec, now=utcnow())
        for segment in made:  # creation order is the order segments are tried in
            segments.create_segment(s, ADMIN, segment=segment, now=utcnow())
        key = status.key_for(s, team=team, service="web", env=TEST)
    assert key is not None
    return key


def ipam_agent(ipam: Ipam, engine: docker.APIClient, *, driver: str) -> IpamAgent:
    """This test's own IPAM driver `driver`, releasing at once, collecting only when asked."""
    config = IpamAgentConfig(
        host="host-a", socket=Path(f"/run/docker/plugins/{driver}.sock"), driver_name=driver,
        grace=timedelta(seconds=0), interval_s=3600,
    )  # fmt: skip
    return IpamAgent(ipam, engine, config=config, clock=utcnow)


def remove_segment_networks(engine: docker.APIClient, made: Iterable[Segment]) -> None:
    """Containers first (dockerd asks the driver to release their addresses), then networks."""
    for segment in made:
        for entry in engine.containers(all=True, filters={"network": segment.docker_network}):
            engine.remove_container(entry["Id"], force=True)
        with contextlib.suppress(NotFound):
            engine.remove_network(segment.docker_network)
