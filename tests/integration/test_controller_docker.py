"""The controller driving the real Docker engine: convergence, healing, rolling updates.

Reconciler passes run against a real dockerd (started by the test support if none answers)
and a SQLite store; containers are the FROM-scratch busybox test image serving HTTP on 8080.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.instance import Owner, RunState
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec, Strategy
from dockyard.domain.status import EnvKey
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store import environments, releases, services, status, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import EnvironmentView

pytestmark = pytest.mark.docker
ADMIN = Principal(token_id="admin", name="admin", team=None)


@dataclass
class Live:
    db: Database
    runtime: DockerRuntime
    reconciler: Reconciler
    client: docker.APIClient
    team: str
    key: EnvKey

    def change(self, **kwargs: int) -> Change:
        return Change(ADMIN, utcnow(), **kwargs)

    def view(self) -> EnvironmentView:
        with self.db.session() as s:
            return environments.environments(
                s, ADMIN, team=self.team, service="web", only=Environment.TEST
            )[0]

    async def converge(self, *, until: str = "available", timeout_s: float = 40) -> EnvironmentView:
        """Run passes as the manager would (after the delay each asks for) until `until`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            again = await self.reconciler.reconcile(self.key)
            view = self.view()
            if view.status.phase == until:
                return view
            await asyncio.sleep(min(again or 0.2, 0.5))
        raise AssertionError(f"not {until} in {timeout_s}s: {self.view().status}")

    def containers(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = self.client.containers(
            all=True, filters={"label": [f"io.dockyard.team={self.team}"]}
        )
        return found


@pytest.fixture
async def live(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> AsyncIterator[Live]:
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    runtime = DockerRuntime(network="dockyard-test")
    settings = ControllerSettings(progress_deadline_s=30, max_restart_delay_s=2)
    spec = ServiceSpec(
        image=test_image,
        ports=(Port(8080),),
        health_check=HealthCheck(http_path="/health", interval_s=1, timeout_s=1, retries=2),
        strategy=Strategy(max_surge=1, max_unavailable=0),
        stop_grace_s=2,
    )
    with db.session() as s:
        teams.create_team(s, ADMIN, name=docker_team, description="", now=utcnow())
        services.create_service(s, ADMIN, team=docker_team, name="web", spec=spec, now=utcnow())
        key = status.key_for(s, team=docker_team, service="web", env=Environment.TEST)
    assert key is not None
    reconciler = Reconciler(db, runtime, clock=utcnow, settings=settings)
    yield Live(db, runtime, reconciler, docker_engine, docker_team, key)
    runtime.close()
    db.close()


async def test_deploy_scale_and_scale_to_zero(live: Live) -> None:
    with live.db.session() as s:
        releases.deploy(
            s, live.change(), team=live.team, service="web", env=Environment.TEST, replicas=3
        )
    view = await live.converge()
    assert view.status.ready == 3
    assert {i.health for i in view.instances} == {"ready"}
    assert all(i.ip for i in view.instances)
    running = live.containers()
    assert len(running) == 3
    host = live.client.inspect_container(running[0]["Id"])["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024 and "ALL" in host["CapDrop"]
    with live.db.session() as s:
        releases.scale(
            s, live.change(), team=live.team, service="web", env=Environment.TEST, replicas=0
        )
    await live.converge(until="idle")
    assert live.containers() == []


async def test_killed_and_removed_containers_are_healed(live: Live) -> None:
    with live.db.session() as s:
        releases.deploy(
            s, live.change(), team=live.team, service="web", env=Environment.TEST, replicas=2
        )
    view = await live.converge()
    victim, other = view.instances
    by_instance = {c["Labels"]["io.dockyard.instance"]: c["Id"] for c in live.containers()}  # type: ignore[index]
    live.client.kill(by_instance[victim.id])
    live.client.remove_container(by_instance[other.id], force=True)
    await live.converge(until="degraded", timeout_s=10)
    view = await live.converge()
    ids = {i.id for i in view.instances}
    assert victim.id in ids, "a crashed instance restarts in place"
    assert other.id not in ids, "a removed instance is replaced by a new one"
    restarted = next(i for i in view.instances if i.id == victim.id)
    assert restarted.restarts == 1 and restarted.exit_code is not None


async def test_rolling_update_keeps_serving_and_leaves_only_new(live: Live) -> None:
    with live.db.session() as s:
        releases.deploy(
            s, live.change(), team=live.team, service="web", env=Environment.TEST, replicas=2
        )
    await live.converge()
    with live.db.session() as s:
        releases.deploy(
            s,
            live.change(),
            team=live.team,
            service="web",
            env=Environment.TEST,
            env_vars={"VERSION": "2"},
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        await live.reconciler.reconcile(live.key)
        view = live.view()
        assert view.status.ready >= 2 or view.status.phase == "progressing"
        ready = [i for i in view.instances if i.health == "ready"]
        assert len(ready) >= 2, "the rollout dropped below the replica count"
        if view.status.phase == "available":
            break
        await asyncio.sleep(0.2)
    observed = await live.runtime.list(Owner(team=live.team))
    assert {o.revision for o in observed} == {2}
    assert len(observed) == 2 and {o.state for o in observed} == {RunState.RUNNING}


async def test_missing_image_fails_the_rollout_without_leftovers(live: Live) -> None:
    with live.db.session() as s:
        releases.deploy(
            s,
            live.change(),
            team=live.team,
            service="web",
            env=Environment.TEST,
            image="dockyard-test/never-built:1",
            replicas=2,
        )
    view = await live.converge(until="failed")
    assert "dockyard-test/never-built:1" in view.status.message
    assert live.containers() == []
