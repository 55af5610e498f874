"""Declared log files end to end on the real Docker engine: the runtime mounts a per-instance
host directory at the declared directory (the container's only mount), the agent's log part
finds the files there through the container's labels and ships them; a file rotated by rename
and by copy-truncate inside the container arrives once, in order, under its path in the
container; a stack trace becomes one record by the service's multi-line rule, in the file and
on the console alike; the directory goes with the instance."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import docker
import pytest

from dockyard.agent.logs import ConsoleLogs
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Observed, Owner
from dockyard.domain.logfiles import LogMultiline
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Line
from dockyard.logs.shipper import Pacing, Shipper
from dockyard.logs.stream import LogStream
from dockyard.runtimes.docker import DockerRuntime
from tests.support.fixtures import TEST_NETWORK

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

NUMBERED = re.compile(r"^n=(\d+) ")
FAST = Pacing(poll_s=0.005, retry_min_s=0.01, retry_max_s=0.1, stopped_poll_s=0.2)
APP_LOG = "/app/logs/app.log"

# Numbered lines into /app/logs/app.log; at 1000 the file is renamed away (a new one is made by
# the next line), at 2000 copied and truncated. Before the copy-truncate the writer pauses: the
# lines a copy-truncate cuts before they were read are gone from the file by its nature (only
# the copy has them), and the test is of what the agent does, not of that race.
ROTATING = """
cd /app/logs; sleep 1; i=1
while [ $i -le 3000 ]; do
  echo "n=$i padding to make the lines longer" >> app.log
  if [ $i -eq 1000 ]; then mv app.log app.log.1; fi
  if [ $i -eq 2000 ]; then sleep 1; cp app.log app.log.2; truncate -s 0 app.log; fi
  if [ $((i % 50)) -eq 0 ]; then usleep 10000; fi
  i=$((i+1))
done
sleep 1
"""

TRACE = """2025-01-01T00:00:00 ERROR request failed
Traceback (most recent call last):
  File "/app/server.py", line 10, in handle
    return compute(x)
ValueError: x must be positive"""
NEXT = "2025-01-01T00:00:01 INFO next request"
# The trace into a declared file and to the console; then a second file appears later.
TRACING = f"""
cd /app/logs; sleep 1
printf '%s\\n' '{TRACE}' '{NEXT}' >> app.log
printf '%s\\n' '{TRACE}' '{NEXT}'
sleep 1; echo "2025-01-01T00:00:02 WARN late file" >> late.log; sleep 1
"""


# 1-100, a pause (the agent is stopped), 101-120, the file renamed away, a pause (the agent starts
# again and finds only the renamed file), then 121-200 into a new file.
RENAMED_WHILE_AWAY = """
cd /app/logs; sleep 1
i=1; while [ $i -le 100 ]; do echo "n=$i" >> app.log; i=$((i+1)); done
sleep 4
while [ $i -le 120 ]; do echo "n=$i" >> app.log; i=$((i+1)); done
mv app.log app.log.1; sleep 4
while [ $i -le 200 ]; do echo "n=$i" >> app.log; i=$((i+1)); done
sleep 1
"""


def instance(team: str, image: str, script: str, **spec: object) -> InstanceSpec:
    service = ServiceSpec(
        image=image, command=("sh", "-c", script), stop_grace_s=1,
        resources=Resources(cpus=0.5, memory_mb=64, pids=64), **spec,  # type: ignore[arg-type]
    )  # fmt: skip
    return InstanceSpec(
        team=team, service="files", env=Environment.TEST, revision=1,
        instance_id=new_instance_id(), spec=service,
    )  # fmt: skip


def lines_of(stream: MemoryLogStream, instance: str, channel: str) -> list[Line]:
    return [
        line
        for batch in stream.batches
        if batch.source.instance == instance and batch.source.channel == channel
        for line in batch.lines
    ]


async def until_shipped(logs: ConsoleLogs, instance: str, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not logs.shipped(instance):  # noqa: ASYNC110 - plain state of the code under test
            await asyncio.sleep(0.05)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[DockerRuntime]:
    made = DockerRuntime(network=TEST_NETWORK, files_dir=tmp_path / "files")
    yield made
    made.close()


class Agent:
    """The agent's log part for one team, on a MemoryLogStream and one checkpoint directory
    (as one host's agent, stopped and started again)."""

    def __init__(self, checkpoints: Path, team: str) -> None:
        self.stream = MemoryLogStream()
        self._checkpoints = checkpoints
        self._team = team
        self._running: tuple[asyncio.Task[None], docker.APIClient] | None = None
        self.logs = self.start()

    def start(self) -> ConsoleLogs:
        client = docker.APIClient(version="auto")
        shipper = Shipper(
            cast(LogStream, self.stream), CheckpointStore(self._checkpoints),
            max_line_bytes=16 * 1024, pacing=FAST,
        )  # fmt: skip
        self.logs = ConsoleLogs(
            engine=client, shipper=shipper, owner=Owner(team=self._team), interval_s=0.3,
            files_dir=self._checkpoints.parent / "files",  # the runtime fixture's
        )  # fmt: skip
        self._running = (asyncio.create_task(self.logs.run()), client)
        return self.logs

    async def stop(self) -> None:
        if self._running is None:
            return
        (task, client), self._running = self._running, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()


@pytest.fixture
async def agent(tmp_path: Path, docker_team: str) -> AsyncIterator[Agent]:
    """The agent's log part for the test's team; stopped at the end."""
    made = Agent(tmp_path / "checkpoints", docker_team)
    yield made
    await made.stop()


async def run_to_end(
    runtime: DockerRuntime, client: docker.APIClient, spec: InstanceSpec
) -> Observed:
    started = await runtime.start(spec)
    await asyncio.to_thread(client.wait, started.runtime_id, timeout=90)
    return started


async def test_file_rotated_by_rename_and_copy_truncate_arrives_once_in_order(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    runtime: DockerRuntime,
    agent: Agent,
    tmp_path: Path,
) -> None:
    logs, stream = agent.logs, agent.stream
    spec = instance(docker_team, test_image, ROTATING, log_paths=("/app/logs/*.log",))
    started = await run_to_end(runtime, docker_engine, spec)
    await until_shipped(logs, spec.instance_id, timeout_s=30)

    lines = lines_of(stream, spec.instance_id, APP_LOG)
    numbers = [int(m.group(1)) for line in lines if (m := NUMBERED.match(line.text))]
    assert numbers == list(range(1, 3001))
    assert [line.seq for line in lines] == list(range(1, 3001))
    assert {line.stream for line in lines} == {APP_LOG}
    # Neither rotated copy became a source of its own.
    channels = {b.source.channel for b in stream.batches if b.source.instance == spec.instance_id}
    assert channels <= {APP_LOG, "console"}
    counters = logs.shipper.counters.of(f"{docker_team}/files/test/{spec.instance_id}/{APP_LOG}")
    assert counters.lost == 0

    # The per-instance directory is the container's only mount, read-write.
    root = tmp_path / "files" / spec.instance_id
    mounts = docker_engine.inspect_container(started.runtime_id)["Mounts"]
    assert [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in mounts] == [
        ("bind", str(root / "0"), "/app/logs", True)
    ]
    assert sorted(p.name for p in (root / "0").iterdir()) == ["app.log", "app.log.1", "app.log.2"]
    await runtime.destroy(started)
    assert not root.exists()


async def test_stack_trace_is_one_record_in_the_file_and_on_the_console(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    runtime: DockerRuntime,
    agent: Agent,
) -> None:
    logs, stream = agent.logs, agent.stream
    rule = LogMultiline(start=r"\d{4}-\d\d-\d\dT", max_wait_s=0.3)
    spec = instance(
        docker_team, test_image, TRACING, log_paths=("/app/logs/*.log",), log_multiline=rule
    )
    started = await run_to_end(runtime, docker_engine, spec)
    await until_shipped(logs, spec.instance_id, timeout_s=30)

    in_file = lines_of(stream, spec.instance_id, APP_LOG)
    assert [line.text for line in in_file] == [TRACE, NEXT]
    on_console = lines_of(stream, spec.instance_id, "console")
    assert [line.text for line in on_console] == [TRACE, NEXT]
    late = lines_of(stream, spec.instance_id, "/app/logs/late.log")
    assert [(line.stream, line.text) for line in late] == [
        ("/app/logs/late.log", "2025-01-01T00:00:02 WARN late file")
    ]
    await runtime.destroy(started)


async def test_file_renamed_while_the_agent_was_away_stays_its_origins(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    runtime: DockerRuntime,
    agent: Agent,
    tmp_path: Path,
) -> None:
    """A restarted agent finds only `app.log.1` (the new `app.log` is not made yet): it is the
    generation of the source it checkpointed, not a new source, so nothing arrives twice."""
    # A pattern the renamed file matches too.
    spec = instance(docker_team, test_image, RENAMED_WHILE_AWAY, log_paths=("/app/logs/*",))
    started = await runtime.start(spec)
    key = f"{docker_team}/files/test/{spec.instance_id}/{APP_LOG}"
    checkpoints = CheckpointStore(tmp_path / "checkpoints")
    leaf = tmp_path / "files" / spec.instance_id / "0"
    async with asyncio.timeout(20):
        while getattr(checkpoints.load(key), "seq", 0) < 100:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await agent.stop()
        while not (leaf / "app.log.1").exists():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert not (leaf / "app.log").exists()
    logs = agent.start()
    await asyncio.to_thread(docker_engine.wait, started.runtime_id, timeout=60)
    await until_shipped(logs, spec.instance_id, timeout_s=30)

    lines = lines_of(agent.stream, spec.instance_id, APP_LOG)
    assert [int(line.text.removeprefix("n=")) for line in lines] == list(range(1, 201))
    assert [line.seq for line in lines] == list(range(1, 201))
    batches = agent.stream.batches
    channels = {b.source.channel for b in batches if b.source.instance == spec.instance_id}
    assert channels <= {APP_LOG, "console"}
    await runtime.destroy(started)
