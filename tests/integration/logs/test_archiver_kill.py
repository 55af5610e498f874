"""No loss, no duplicates: an archiver process on a real nats-server, killed with SIGKILL
again and again while it archives, leaves every line in the archive exactly once, in order per
instance, once a last archiver has caught up."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.logs.archive import Archive, lines_in
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from tests.support.nats import NatsServer

pytestmark = pytest.mark.timeout(240)

INSTANCES = ("a1", "b2", "c3")
LINES = 20_000  # per instance
BATCH = 200
MAX_BYTES = 256 << 20
KILLS = 3

_ARCHIVER = """
import asyncio, logging, signal, sys
from dockyard.logs.archive import Archive
from dockyard.logs.archiver import Archiver, Limits
from dockyard.logs.jetstream import JetStreamLogStream

async def main(url, name, root):
    stream = JetStreamLogStream(
        [url], max_bytes=int(sys.argv[4]), name=name, ack_wait_s=2.0, max_ack_pending=2000
    )
    limits = Limits(flush_interval_s=0.3, max_lines=3000, max_held=1500, retry_s=0.2)
    archiver = Archiver(stream, Archive(root), limits=limits)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await archiver.run(stop)
    await stream.close()

logging.basicConfig(level=logging.INFO)
asyncio.run(main(*sys.argv[1:4]))
"""


class ArchiverProcess:
    def __init__(self, url: str, stream: str, root: Path) -> None:
        self._argv = [sys.executable, "-c", _ARCHIVER, url, stream, str(root), str(MAX_BYTES)]
        self._log = root.parent / "archiver.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT)

    def signal(self, how: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, how)
            self.process.wait(timeout=30)
        self.process = None


def batches(instance: str, now_ns: int, team: str) -> list[Batch]:
    src = Source(team, "cart", Environment.TEST, instance, "console", "host-1")
    return [
        Batch(
            src,
            tuple(
                Line(n, now_ns + n * 1000, "stdout", f"{instance} {n:06d} " + "x" * 80)
                for n in range(first, first + BATCH)
            ),
        )
        for first in range(1, LINES + 1, BATCH)
    ]


def archived_lines(archive: Archive, team: str) -> int:
    since = datetime.now(UTC) - timedelta(hours=2)
    return lines_in(archive.files(team, "cart", "test", since=since))


def wait_for(condition: object, what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def publish(url: str, stream: str, all_batches: list[Batch]) -> None:
    publisher = JetStreamLogStream([url], max_bytes=MAX_BYTES, name=stream)
    try:
        for batch in all_batches:
            await publisher.publish(batch)
    finally:
        await publisher.close()


def test_an_archiver_killed_mid_flight_loses_and_doubles_nothing(
    own_nats: NatsServer, tmp_path: Path
) -> None:
    stream, team = f"ARCH_{secrets.token_hex(4)}", f"t{secrets.token_hex(3)}"
    root = tmp_path / "archive"
    archive = Archive(str(root))
    now_ns = time.time_ns() - 60 * 10**9
    by_instance = [batches(name, now_ns, team) for name in INSTANCES]
    interleaved = [b for group in zip(*by_instance, strict=True) for b in group]
    total = len(INSTANCES) * LINES
    asyncio.run(publish(own_nats.url, stream, interleaved[: len(interleaved) // 2]))

    worker = ArchiverProcess(own_nats.url, stream, root)
    try:
        for kill in range(KILLS):
            before = archived_lines(archive, team)
            worker.start()
            wait_for(lambda b=before: archived_lines(archive, team) > b, f"objects (run {kill})")
            worker.signal(signal.SIGKILL)
            if kill == 0:
                asyncio.run(publish(own_nats.url, stream, interleaved[len(interleaved) // 2 :]))
        worker.start()
        wait_for(lambda: archived_lines(archive, team) >= total, "every line archived")
        worker.signal(signal.SIGTERM)
    finally:
        worker.signal(signal.SIGKILL)

    assert archived_lines(archive, team) == total  # names hold each line number once
    since = datetime.now(UTC) - timedelta(hours=2)
    lines = archive.lines(team, "cart", "test", since=since, until=since + timedelta(hours=4))
    seen: dict[str, list[int]] = {name: [] for name in INSTANCES}
    for archived in lines:
        seen[archived.source.instance].append(archived.line.seq)
    assert seen == {name: list(range(1, LINES + 1)) for name in INSTANCES}
