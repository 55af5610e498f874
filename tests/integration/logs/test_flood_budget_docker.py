"""A flooding service on the real Docker engine, the agent's log part and a real nats-server:
its lines over its budget (declared with the service, a container label) are dropped and
counted, one marker line in the source's own numbering says how many at each run of drops, and
a quiet service on the same host gets every line through on time."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from dockyard.agent.logs import ConsoleLogs
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Owner
from dockyard.domain.lograte import LogRate
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.logs.budget import Rate, is_marker
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.level import level_of
from dockyard.logs.record import Line
from dockyard.logs.shipper import Pacing, Shipper
from dockyard.runtimes.docker import DockerRuntime
from tests.support.fixtures import TEST_NETWORK
from tests.support.nats import NatsServer

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

FAST = Pacing(poll_s=0.02, retry_min_s=0.01, retry_max_s=0.1, stopped_poll_s=0.2)
FLOOD_LINES = 20_000
FLOOD = f'i=0; while [ $i -lt {FLOOD_LINES} ]; do i=$((i+1)); echo "n=$i"; done; sleep 600'
QUIET = (
    'sleep 0.5; i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo "q=$i"; sleep 0.2; done; sleep 600'
)
BUDGET = LogRate(lines_per_s=500, burst=500)
DROPPED = re.compile(r"^… ([\d,]+) lines? dropped by the rate limit …$")


def instance(team: str, service: str, image: str, script: str, **spec: object) -> InstanceSpec:
    template = ServiceSpec(
        image=image, command=("sh", "-c", script), stop_grace_s=1,
        resources=Resources(cpus=0.5, memory_mb=64, pids=64), **spec,  # type: ignore[arg-type]
    )  # fmt: skip
    return InstanceSpec(
        team=team, service=service, env=Environment.TEST, revision=1,
        instance_id=new_instance_id(), spec=template,
    )  # fmt: skip


@pytest.fixture
async def stream(own_nats: NatsServer) -> AsyncIterator[JetStreamLogStream]:
    opened = JetStreamLogStream([own_nats.url], max_bytes=256 << 20, ack_wait_s=5.0)
    yield opened
    await opened.close()


@pytest.fixture
async def agent(
    tmp_path: Path, docker_team: str, stream: JetStreamLogStream
) -> AsyncIterator[ConsoleLogs]:
    """The agent's log part for the test's team, on the real stream; stopped at the end. The
    platform's default budget is far above the quiet service's rate."""
    client = docker.APIClient(version="auto")
    shipper = Shipper(
        stream, CheckpointStore(tmp_path / "checkpoints"), max_line_bytes=16 << 10, pacing=FAST
    )
    logs = ConsoleLogs(
        engine=client, shipper=shipper, owner=Owner(team=docker_team), interval_s=0.3,
        default_rate=Rate(1000),
    )  # fmt: skip
    task = asyncio.create_task(logs.run())
    yield logs
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    client.close()


class Received:
    """Every line a durable consumer of the stream got, per instance, with when it came."""

    def __init__(self) -> None:
        self.lines: dict[str, list[tuple[Line, int]]] = {}

    async def pull(self, stream: JetStreamLogStream) -> None:
        for delivery in await stream.fetch("flood-test", max_batches=64, timeout_s=0.2):
            came = time.time_ns()
            batch = delivery.batch
            got = self.lines.setdefault(batch.source.instance, [])
            got.extend((line, came) for line in batch.lines)
            await delivery.ack()

    def texts(self, instance: str) -> list[str]:
        return [line.text for line, _ in self.lines.get(instance, [])]


def dropped_in(texts: list[str]) -> int:
    return sum(int(m.group(1).replace(",", "")) for t in texts if (m := DROPPED.match(t)))


async def test_a_flood_is_cut_to_its_budget_with_markers_and_a_quiet_service_is_on_time(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    tmp_path: Path,
    stream: JetStreamLogStream,
    agent: ConsoleLogs,
) -> None:
    runtime = DockerRuntime(network=TEST_NETWORK, files_dir=tmp_path / "files")
    flood = instance(docker_team, "flood", test_image, FLOOD, log_rate=BUDGET)
    quiet = instance(docker_team, "quiet", test_image, QUIET)
    try:
        await runtime.start(flood)
        await runtime.start(quiet)
        received = Received()
        flood_id, quiet_id = flood.instance_id, quiet.instance_id

        def flood_accounted() -> bool:
            texts = received.texts(flood_id)
            kept = sum(1 for t in texts if t.startswith("n="))
            return kept + dropped_in(texts) == FLOOD_LINES

        async with asyncio.timeout(60):
            while not (flood_accounted() and len(received.texts(quiet_id)) == 20):
                await received.pull(stream)
    finally:
        runtime.close()

    # The flood: every line is either shipped or counted in a marker, the shipped numbers have
    # no gaps, and no more passed than the budget allows for the time it took to write them.
    flood_lines = [line for line, _ in received.lines[flood_id]]
    assert [line.seq for line in flood_lines] == list(range(1, len(flood_lines) + 1))
    markers = [line for line in flood_lines if is_marker(line.text)]
    assert markers, "no marker line"
    assert all(level_of(line.text) == "warn" for line in markers)
    kept = [int(line.text[2:]) for line in flood_lines if line.text.startswith("n=")]
    assert kept == sorted(kept) and len(kept) < FLOOD_LINES
    written_s = (flood_lines[-1].time_ns - flood_lines[0].time_ns) / 1e9
    assert len(kept) <= BUDGET.burst + BUDGET.lines_per_s * (written_s + 1)
    counters = agent.shipper.counters.of(f"{docker_team}/flood/test/{flood_id}/console")
    assert counters.dropped_rate == dropped_in([line.text for line in markers])
    assert counters.dropped_rate == FLOOD_LINES - len(kept)
    assert counters.lines_read == FLOOD_LINES

    # The quiet service: all of its lines, none dropped, each within a second of its write.
    quiet_got = received.lines[quiet_id]
    assert [line.text for line, _ in quiet_got] == [f"q={i}" for i in range(1, 21)]
    late = [(came - line.time_ns) / 1e9 for line, came in quiet_got]
    assert max(late) < 1.0, late
