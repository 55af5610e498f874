"""A whole autoscaling loop on the real Docker engine, for the Docker test and the benchmark:
a SQLite store, the controller's Manager over a DockerRuntime, the agent's instance metrics
part (its collector, served on a loopback port as the agent serves it), and the Autoscaler
reading that port. The service's instances run busybox: httpd for the health check, and a
loop that burns CPU while /tmp/burn exists in the container."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import docker

from dockyard.agent.metrics import DockerContainers
from dockyard.controller.autoscaler import Autoscaler
from dockyard.controller.config import ControllerSettings
from dockyard.controller.manager import Manager
from dockyard.domain.autoscaling import Policy
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.instance import LABEL_TEAM
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, Resources, ServiceSpec, Strategy
from dockyard.metrics.agent_figures import AgentReader
from dockyard.metrics.exposition import registry_of, serve
from dockyard.metrics.instances import InstanceCollector
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store import autoscaling, environments, releases, services, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.status import key_for
from dockyard.store.views import EnvironmentView
from tests.support.fixtures import TEST_NETWORK
from tests.support.nats import free_port

ADMIN = Principal(token_id="admin", name="admin", team=None)
TEST = Environment.TEST
BURNER = (
    "httpd -p 8080 -h /www; "
    "while :; do if [ -f /tmp/burn ]; then while [ -f /tmp/burn ]; do :; done; "
    "else sleep 0.2; fi; done"
)


@dataclass
class Loop:
    db: Database
    client: docker.APIClient
    team: str
    manager: Manager
    autoscaler: Autoscaler

    def view(self) -> EnvironmentView:
        with self.db.session() as s:
            return environments.environments(s, ADMIN, team=self.team, service="web", only=TEST)[0]

    def replicas(self) -> int:
        current = self.view().current
        return 0 if current is None else current.replicas

    def containers(self) -> list[str]:
        found = self.client.containers(filters={"label": [f"{LABEL_TEAM}={self.team}"]})
        return [str(c["Id"]) for c in found]

    def burn(self, on: bool) -> None:
        """Start (or stop) the CPU burner in every instance running now."""
        command = ["touch", "/tmp/burn"] if on else ["rm", "-f", "/tmp/burn"]
        for container in self.containers():
            run = self.client.exec_create(container, command)
            self.client.exec_start(run["Id"])

    def deploy(self, replicas: int) -> None:
        with self.db.session() as s:
            releases.deploy(
                s, Change(ADMIN, utcnow()), team=self.team, service="web", env=TEST,
                replicas=replicas,
            )  # fmt: skip
        self._notify()

    def scale(self, replicas: int) -> None:
        """`dockyard scale` by hand (which pauses the autoscaler)."""
        with self.db.session() as s:
            releases.scale(
                s, Change(ADMIN, utcnow()), team=self.team, service="web", env=TEST,
                replicas=replicas,
            )  # fmt: skip
        self._notify()

    def set_policy(self, policy: Policy) -> None:
        with self.db.session() as s:
            autoscaling.put_policy(
                s, ADMIN, team=self.team, service="web", env=TEST, policy=policy, now=utcnow()
            )

    def status(self) -> str:
        with self.db.session() as s:
            return autoscaling.get_policy(s, ADMIN, team=self.team, service="web", env=TEST).status

    def _notify(self) -> None:
        with self.db.session() as s:
            key = key_for(s, team=self.team, service="web", env=TEST)
        if key is not None:
            self.manager.notify(key)

    async def wait_for(
        self, condition: Callable[[], bool], what: str, *, timeout_s: float = 60
    ) -> float:
        """Seconds until `condition` held (checked every 0.1 s); AssertionError at the timeout."""
        began = time.monotonic()
        while not await asyncio.to_thread(condition):
            assert time.monotonic() - began < timeout_s, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)
        return time.monotonic() - began

    def ready(self, count: int) -> bool:
        view = self.view()
        return view.status.ready >= count and view.status.desired == count


@contextlib.asynccontextmanager
async def autoscaling_loop(
    tmp_path: Path, client: docker.APIClient, *, team: str, image: str, cpus: float = 0.2
) -> AsyncIterator[Loop]:
    """The loop above for service `team/web` (never deployed), everything stopped after."""
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    runtime = DockerRuntime(network=TEST_NETWORK)
    spec = ServiceSpec(
        image=image, command=("sh", "-c", BURNER), ports=(Port(8080),),
        resources=Resources(cpus=cpus),
        health_check=HealthCheck(http_path="/health", interval_s=1, timeout_s=1, retries=2),
        strategy=Strategy(max_surge=1, max_unavailable=0), stop_grace_s=1,
    )  # fmt: skip
    with db.session() as s:
        teams.create_team(s, ADMIN, name=team, description="", now=utcnow())
        services.create_service(s, ADMIN, team=team, name="web", spec=spec, now=utcnow())
    settings = ControllerSettings(resync_s=1, progress_deadline_s=60)
    manager = Manager(db, runtime, clock=utcnow, settings=settings)
    collector = InstanceCollector(DockerContainers(client), host="test", list_every_s=0.5)
    port = free_port()
    reader = AgentReader(f"127.0.0.1:{port}")
    scaler = Autoscaler(db, reader.read, clock=utcnow, interval_s=2, notify=manager.notify)
    tasks = [
        asyncio.create_task(manager.run()),
        asyncio.create_task(collector.run()),
        asyncio.create_task(serve(f"127.0.0.1:{port}", registry_of(collector))),
        asyncio.create_task(scaler.run()),
    ]
    try:
        yield Loop(db, client, team, manager, scaler)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reader.close()
        runtime.close()
        db.close()
