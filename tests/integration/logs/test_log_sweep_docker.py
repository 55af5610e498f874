"""Log leftovers on the real Docker engine: an instance whose container was removed outside the
controller (its declared-file directory, shipped mark and checkpoints left behind) is swept by
the agent's log part once the grace period passed, after its lines were shipped; a running
instance's are kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import docker
import pytest

from dockyard.agent.logs import ConsoleLogs
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Owner
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.shipper import Pacing, Shipper
from dockyard.logs.stream import LogStream
from dockyard.runtimes.docker import DockerRuntime
from tests.support.fixtures import TEST_NETWORK

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

FAST = Pacing(poll_s=0.01, retry_min_s=0.01, retry_max_s=0.1, stopped_poll_s=0.1)
GRACE_S = 1.0
ONCE = "sleep 1; echo console; echo file >> /app/logs/app.log; sleep 1"
RUNNING = "sleep 1; echo file >> /app/logs/app.log; exec sleep 600"


def instance(team: str, image: str, script: str) -> InstanceSpec:
    template = ServiceSpec(
        image=image, command=("sh", "-c", script), stop_grace_s=1,
        resources=Resources(cpus=0.5, memory_mb=64, pids=64), log_paths=("/app/logs/*.log",),
    )  # fmt: skip
    return InstanceSpec(
        team=team, service="sweep", env=Environment.TEST, revision=1,
        instance_id=new_instance_id(), spec=template,
    )  # fmt: skip


@pytest.fixture
async def agent(tmp_path: Path, docker_team: str) -> AsyncIterator[ConsoleLogs]:
    client = docker.APIClient(version="auto")
    shipper = Shipper(
        cast(LogStream, MemoryLogStream()), CheckpointStore(tmp_path / "checkpoints"),
        max_line_bytes=16 << 10, pacing=FAST,
    )  # fmt: skip
    logs = ConsoleLogs(
        engine=client, shipper=shipper, owner=Owner(team=docker_team), interval_s=0.2,
        files_dir=tmp_path / "files", sweep_grace_s=GRACE_S,
    )  # fmt: skip
    task = asyncio.create_task(logs.run())
    yield logs
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    client.close()


async def until(check: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - plain state of the code under test
            await asyncio.sleep(0.05)


async def test_leftovers_of_a_container_removed_by_hand_go_after_the_grace(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    tmp_path: Path,
    agent: ConsoleLogs,
) -> None:
    runtime = DockerRuntime(network=TEST_NETWORK, files_dir=tmp_path / "files")
    store = CheckpointStore(tmp_path / "checkpoints")
    gone, running = (
        instance(docker_team, test_image, ONCE),
        instance(docker_team, test_image, RUNNING),
    )
    stray = tmp_path / "files" / new_instance_id()  # left by an instance of a former agent's
    (stray / "0").mkdir(parents=True)
    store.mark_shipped(stray.name, {})
    try:
        finished = await runtime.start(gone)
        await runtime.start(running)
        await asyncio.to_thread(docker_engine.wait, finished.runtime_id, timeout=60)
        await until(lambda: agent.shipped(gone.instance_id), timeout_s=30)
        assert (tmp_path / "files" / gone.instance_id).is_dir()
        # Removed outside the controller: the runtime never removes its directory.
        await asyncio.to_thread(docker_engine.remove_container, finished.runtime_id, force=True)

        def swept() -> bool:
            on_disk = {p.name for p in (tmp_path / "files").iterdir()}
            return gone.instance_id not in on_disk and stray.name not in on_disk

        await until(swept, timeout_s=30)
        assert store.marked() == []
        assert not [k for k in agent.shipper.checkpointed() if f"/{gone.instance_id}/" in k]
        # The running instance keeps its directory and checkpoints.
        assert (tmp_path / "files" / running.instance_id / "0" / "app.log").is_file()
        checkpointed = agent.shipper.checkpointed
        await until(lambda: any(f"/{running.instance_id}/" in k for k in checkpointed()), 10)
        counters = agent.shipper.counters.total()
        assert counters.lost == 0
    finally:
        runtime.close()
