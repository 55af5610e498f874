"""The agent's log part against the real Docker engine: a container whose json-file log rotates
every kilobyte writes numbered lines, and the lines reach the stream once each, in order, with
their numbers; when the agent is away while rotation deletes unread files, the loss is counted
and the lines still present are shipped; through a nats-server restart, JetStream gets every
line once."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import docker
import pytest
from prometheus_client import generate_latest

from dockyard.agent.logs import ConsoleLogs
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_REVISION,
    LABEL_SERVICE,
    LABEL_TEAM,
    LABEL_TEMPLATE,
    Owner,
)
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Line
from dockyard.logs.shipper import Pacing, Shipper
from dockyard.logs.stats import agent_report
from dockyard.logs.stream import LogStream
from dockyard.metrics.exposition import registry_of
from dockyard.metrics.logcenter import LogCenterCollector
from tests.support.nats import NatsServer

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]

NUMBERED = re.compile(r"^n=(\d+) ")
FAST = Pacing(poll_s=0.005, retry_min_s=0.01, retry_max_s=0.1, stopped_poll_s=0.2)


def numbered(count_from: int, count_to: int, *, pause_us: int) -> str:
    """Shell that prints `n=I` and some padding for I in the range, `pause_us` between lines."""
    pause = f"usleep {pause_us}; " if pause_us else ""
    return (
        f"i={count_from}; while [ $i -le {count_to} ]; do "
        f'echo "n=$i some padding to fill the kilobyte sooner"; {pause}i=$((i+1)); done'
    )


def start(
    client: docker.APIClient,
    image: str,
    team: str,
    script: str,
    *,
    max_size: str = "1k",
    max_file: int = 3,
) -> tuple[str, str]:
    """A Dockyard-labelled container of `team` running `script`, json-file rotated at
    `max_size` with `max_file` files; (container id, instance id)."""
    instance = "i" + secrets.token_hex(4)
    labels = {
        LABEL_MANAGED: "true", LABEL_TEAM: team, LABEL_SERVICE: "burst", LABEL_ENV: "test",
        LABEL_REVISION: "1", LABEL_INSTANCE: instance, LABEL_TEMPLATE: "t",
    }  # fmt: skip
    host_config = client.create_host_config(
        log_config={
            "type": "json-file",
            "config": {"max-size": max_size, "max-file": str(max_file)},
        },
        network_mode="none",  # the lines are all it does
    )
    container = client.create_container(
        image, command=["sh", "-c", script], labels=labels, host_config=host_config
    )
    client.start(container["Id"])
    return container["Id"], instance


def lines_of(stream: MemoryLogStream, instance: str) -> list[Line]:
    return [ln for b in stream.batches if b.source.instance == instance for ln in b.lines]


def numbers_of(lines: list[Line]) -> list[int]:
    return [int(m.group(1)) for ln in lines if (m := NUMBERED.match(ln.text))]


async def until(check: Callable[[], bool], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - plain state of the code under test
            await asyncio.sleep(0.02)


class Agents:
    """Log parts of agents for one team's containers, on MemoryLogStreams and the same
    checkpoint directory (as one host's agent restarted)."""

    def __init__(self, checkpoints: Path, team: str) -> None:
        self.checkpoints = CheckpointStore(checkpoints)
        self._dir = checkpoints
        self._team = team
        self._running: dict[int, tuple[asyncio.Task[None], docker.APIClient]] = {}

    def start(self, stream: MemoryLogStream) -> ConsoleLogs:
        client = docker.APIClient(version="auto")
        shipper = Shipper(
            cast(LogStream, stream), CheckpointStore(self._dir),
            max_line_bytes=16 * 1024, pacing=FAST,
        )  # fmt: skip
        part = ConsoleLogs(
            engine=client, shipper=shipper, owner=Owner(team=self._team), interval_s=0.5
        )
        self._running[id(part)] = (asyncio.create_task(part.run()), client)
        return part

    async def stop(self, part: ConsoleLogs) -> None:
        task, client = self._running.pop(id(part))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()

    async def stop_all(self) -> None:
        for task, client in self._running.values():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            client.close()


@pytest.fixture
async def agents(tmp_path: Path, docker_team: str) -> AsyncIterator[Agents]:
    """Every log part a test starts is stopped at its end."""
    made = Agents(tmp_path / "checkpoints", docker_team)
    yield made
    await made.stop_all()


async def test_numbered_burst_arrives_once_in_order_through_rotation(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    agents: Agents,
) -> None:
    stream = MemoryLogStream()
    # Ten 1 KiB files hold about a second of lines: rotation on every ~10 lines, with room
    # for an agent slowed by a loaded machine (with three, 0.3 s of lag lost lines in CI).
    container_id, instance = start(
        docker_engine, test_image, docker_team, numbered(1, 400, pause_us=10_000), max_file=10
    )
    logs = agents.start(stream)
    await asyncio.to_thread(docker_engine.wait, container_id, timeout=120)
    await until(lambda: logs.shipped(instance), timeout_s=30)

    lines = lines_of(stream, instance)
    assert numbers_of(lines) == list(range(1, 401))
    assert [ln.seq for ln in lines] == list(range(1, 401))
    assert all(ln.stream == "stdout" for ln in lines)
    log_path = docker_engine.inspect_container(container_id)["LogPath"]
    assert Path(log_path + ".2").exists(), "the json-file log did not rotate"  # noqa: ASYNC240
    counters = logs.shipper.counters.of(f"{docker_team}/burst/test/{instance}/console")
    assert (counters.lines_sent, counters.lost) == (400, 0)


async def test_rotation_that_outruns_a_stopped_agent_is_counted_as_loss(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    agents: Agents,
) -> None:
    stream = MemoryLogStream()
    began_ns = time.time_ns()
    script = f"{numbered(1, 5, pause_us=0)}; sleep 3; {numbered(6, 1500, pause_us=0)}"
    container_id, instance = start(docker_engine, test_image, docker_team, script)
    first = agents.start(stream)
    key = f"{docker_team}/burst/test/{instance}/console"
    await until(lambda: getattr(agents.checkpoints.load(key), "seq", 0) == 5, timeout_s=30)
    await agents.stop(first)  # the agent stops before the burst
    await asyncio.to_thread(docker_engine.wait, container_id, timeout=120)

    second = agents.start(stream)
    await until(lambda: second.shipped(instance), timeout_s=30)
    lines = lines_of(stream, instance)
    numbers = numbers_of(lines)
    assert numbers[:5] == [1, 2, 3, 4, 5]
    assert numbers[-1] == 1500
    assert numbers == sorted(set(numbers)), "each line at most once, in order"
    assert len(numbers) < 1500
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1)), "numbers without gaps"
    counters = second.shipper.counters.of(key)
    assert counters.lost >= 1 and counters.lost_bytes > 0
    assert "rotated away unread" in counters.losses[0].what
    # The same loss as the agent reports it (for the server) and serves it as a metric.
    report = agent_report(second.shipper.counters, host="h1", now_ns=time.time_ns())
    row = next(r for r in report.rows if r.instance == instance)
    assert (row.lost, row.lost_bytes) == (counters.lost, counters.lost_bytes)
    assert began_ns < row.losses[0].time_ns < time.time_ns()
    text = generate_latest(registry_of(LogCenterCollector(lambda: report))).decode()
    labels = f'env="test",instance="{instance}",service="burst",team="{docker_team}"'
    assert f"dockyard_log_losses_total{{{labels}}} {float(row.lost)}" in text


async def test_burst_through_a_nats_server_restart_reaches_jetstream_once(
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    own_nats: NatsServer,
    tmp_path: Path,
) -> None:
    """The real stream: nats-server goes away mid-burst; the shipper holds its batch, the files
    keep the rest (3 x 20 KiB: room for the whole burst, rotating twice), and after the restart
    a durable consumer holds every number once, in order (JetStream drops a batch re-sent
    under the same id)."""
    stream = JetStreamLogStream([own_nats.url], max_bytes=64 << 20, timeout_s=1.0)
    client = docker.APIClient(version="auto")
    shipper = Shipper(
        stream, CheckpointStore(tmp_path / "checkpoints"), max_line_bytes=16 * 1024,
        pacing=FAST,
    )  # fmt: skip
    part = ConsoleLogs(engine=client, shipper=shipper, owner=Owner(team=docker_team))
    script = numbered(1, 600, pause_us=10_000)
    container_id, instance = start(docker_engine, test_image, docker_team, script, max_size="20k")
    task = asyncio.create_task(part.run())
    key = f"{docker_team}/burst/test/{instance}/console"
    try:
        await until(lambda: shipper.counters.of(key).lines_sent >= 100, timeout_s=30)
        await asyncio.to_thread(own_nats.restart, down_s=1.5)
        await asyncio.to_thread(docker_engine.wait, container_id, timeout=120)
        await until(lambda: part.shipped(instance), timeout_s=60)
        got: dict[int, Line] = {}
        async with asyncio.timeout(30):
            while len(got) < 600:
                for delivery in await stream.fetch("check", max_batches=100, timeout_s=1.0):
                    for line in delivery.batch.lines:
                        got.setdefault(line.seq, line)
                    await delivery.ack()
        lines = [got[seq] for seq in sorted(got)]
        assert numbers_of(lines) == list(range(1, 601))
        assert sorted(got) == list(range(1, 601))
        assert shipper.counters.of(key).unavailable_s > 0, "the restart was not felt"
        assert shipper.counters.of(key).lost == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        client.close()
        await stream.close()
