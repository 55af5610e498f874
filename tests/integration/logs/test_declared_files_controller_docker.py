"""The controller, the Docker runtime and the agent's log part together: a service declaring a
log file is deployed and scaled to zero; the instance writes its last lines into the file as
it stops, and the controller removes it (and with it its log directory) only once the agent
shipped the console and the file to the end: every line arrives, and no `logs_incomplete`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import docker
import pytest

from dockyard.agent.logs import ConsoleLogs
from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.instance import Owner
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import CONSOLE, Batch
from dockyard.logs.shipper import Pacing, Shipper
from dockyard.logs.stream import LogStream
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store import environments, releases, services, status, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import EnvironmentView
from tests.support.fixtures import TEST_NETWORK

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
ADMIN = Principal(token_id="admin", name="admin", team=None)
FAST = Pacing(poll_s=0.005, retry_min_s=0.01, retry_max_s=0.1, stopped_poll_s=0.2)

# 1-200 at start; 201-300 when told to stop (the stop signal reaches sh through the init).
SCRIPT = """
i=1; while [ $i -le 200 ]; do echo "n=$i" >> /app/logs/app.log; i=$((i+1)); done
trap 'while [ $i -le 300 ]; do echo "n=$i" >> /app/logs/app.log; i=$((i+1)); done; exit 0' TERM
httpd -f -p 8080 -h /www & wait
"""


class SlowFileStream(MemoryLogStream):
    """Takes declared files' batches slowly, and counts those published after their
    instance's log directory was removed (what the controller's wait must prevent)."""

    def __init__(self, files_dir: Path) -> None:
        super().__init__()
        self._files_dir = files_dir
        self.after_removal = 0

    async def publish(self, batch: Batch) -> None:
        if batch.source.channel != CONSOLE:
            await asyncio.sleep(0.5)
            if not (self._files_dir / batch.source.instance).exists():
                self.after_removal += 1
        await super().publish(batch)


async def converge(
    reconciler: Reconciler, db: Database, key: EnvKey, team: str, until: str
) -> EnvironmentView:
    """Run passes as the manager would until the environment's phase is `until`."""
    async with asyncio.timeout(60):
        while True:
            again = await reconciler.reconcile(key)
            with db.session() as s:
                view = environments.environments(
                    s, ADMIN, team=team, service="web", only=Environment.TEST
                )[0]
            if view.status.phase == until:
                return view
            await asyncio.sleep(min(again or 0.2, 0.5))


async def test_scale_to_zero_waits_for_the_declared_file_then_removes_its_directory(
    tmp_path: Path, docker_engine: docker.APIClient, test_image: str, docker_team: str
) -> None:
    files_dir, checkpoints = tmp_path / "files", tmp_path / "checkpoints"
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    runtime = DockerRuntime(network=TEST_NETWORK, files_dir=files_dir)
    spec = ServiceSpec(
        image=test_image,
        command=("sh", "-c", SCRIPT),
        ports=(Port(8080),),
        health_check=HealthCheck(http_path="/health", interval_s=1, timeout_s=1, retries=2),
        stop_grace_s=30,  # on a loaded machine the trap must still finish before a SIGKILL
        drain_s=0,
        log_paths=("/app/logs/*.log",),
    )
    with db.session() as s:
        teams.create_team(s, ADMIN, name=docker_team, description="", now=utcnow())
        services.create_service(s, ADMIN, team=docker_team, name="web", spec=spec, now=utcnow())
        key = status.key_for(s, team=docker_team, service="web", env=Environment.TEST)
    assert key is not None
    reconciler = Reconciler(
        db, runtime, clock=utcnow,
        settings=ControllerSettings(progress_deadline_s=30, logs_shipped_wait_s=20),
        logs_shipped=CheckpointStore(checkpoints).shipped,
    )  # fmt: skip
    stream = SlowFileStream(files_dir)
    client = docker.APIClient(version="auto")
    shipper = Shipper(
        cast(LogStream, stream), CheckpointStore(checkpoints), max_line_bytes=4096, pacing=FAST
    )
    logs = ConsoleLogs(
        engine=client, shipper=shipper, owner=Owner(team=docker_team), interval_s=0.3,
        files_dir=files_dir,
    )  # fmt: skip
    agent = asyncio.create_task(logs.run())
    try:
        change = Change(ADMIN, utcnow())
        with db.session() as s:
            releases.deploy(s, change, team=docker_team, service="web", env=Environment.TEST)
        view = await converge(reconciler, db, key, docker_team, "available")
        instance = view.instances[0].id
        assert (files_dir / instance / "0").is_dir()
        with db.session() as s:
            releases.scale(
                s, change, team=docker_team, service="web", env=Environment.TEST, replicas=0
            )
        await converge(reconciler, db, key, docker_team, "idle")

        with db.session() as s:
            kinds = [e.kind for e in environments.events(
                s, ADMIN, team=docker_team, service="web", env=Environment.TEST
            )]  # fmt: skip
        assert "removed" in kinds and "logs_incomplete" not in kinds
        lines = [
            ln.text for b in stream.batches if b.source.channel == "/app/logs/app.log"
            for ln in b.lines
        ]  # fmt: skip
        assert lines == [f"n={n}" for n in range(1, 301)]
        assert stream.after_removal == 0
        assert not (files_dir / instance).exists()
    finally:
        agent.cancel()
        await asyncio.gather(agent, return_exceptions=True)
        client.close()
        runtime.close()
        db.close()
