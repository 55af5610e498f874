"""`dockyard drainer` as the process `dockyard up` runs: it reads the drains from the platform
database, delivers to a receiver on loopback, writes each drain's state back where the API
reads it, and deletes the stream consumer of a drain removed from the database."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.domain.drain import DrainKind, DrainSpec, consumer_name
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from dockyard.store import drains, teams
from dockyard.store.db import Database
from tests.support.child import ChildProcess
from tests.support.drain_receivers import HttpReceiver, stopped
from tests.support.nats import NatsServer

pytestmark = pytest.mark.timeout(90)

ADMIN = Principal(token_id="t", name="admin", team=None)
WEB = Source("alpha", "web", Environment.TEST, "web1", host="h1")
LINES = 500


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    started = HttpReceiver()
    await started.start()
    yield started
    await stopped(started)


async def _until(done: Callable[[], bool], what: str, child: ChildProcess) -> None:
    deadline = time.monotonic() + 45
    while not done():
        assert child.running(), f"the drainer exited:\n{child.log_tail()}"
        assert time.monotonic() < deadline, f"timed out: {what}\n{child.log_tail()}"
        await asyncio.sleep(0.1)


async def test_the_drainer_process_delivers_records_state_and_cleans_up(
    own_nats: NatsServer, tmp_path: Path, receiver: HttpReceiver
) -> None:
    url = f"sqlite:///{tmp_path / 'dockyard.db'}"
    db = Database.open(url)
    now = datetime.now(UTC) - timedelta(seconds=1)
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=now)
        spec = DrainSpec(team="alpha", name="siem", kind=DrainKind.HTTP, url=receiver.url)
        drain_id = drains.add_drain(session, ADMIN, spec, now=now).id
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_DATABASE_URL": url,
        "DOCKYARD_NATS_URLS": own_nats.url,
    }
    child = ChildProcess(
        [sys.executable, "-m", "dockyard.cli", "drainer"], log_file=tmp_path / "d.log"
    )
    stream = JetStreamLogStream([own_nats.url], max_bytes=64 << 20)

    def received() -> int:
        return sum(len(b.splitlines()) for b in receiver.bodies)

    child.start(env=env)
    try:
        for first in range(1, LINES + 1, 50):
            lines = tuple(
                Line(s, time.time_ns(), "stdout", f"line {s}") for s in range(first, first + 50)
            )
            await stream.publish(Batch(WEB, lines))

        await _until(lambda: received() == LINES, "every line at the receiver", child)

        def state_delivered() -> int:
            with db.session() as session:
                return drains.get_drain(session, ADMIN, "alpha", "siem").state.delivered

        await _until(lambda: state_delivered() == LINES, "the state in the database", child)
        assert consumer_name(drain_id) in await stream.consumers()
        with db.session() as session:
            drains.remove_drain(session, ADMIN, "alpha", "siem")
        names: list[str] = [consumer_name(drain_id)]

        async def refresh() -> None:
            names[:] = await stream.consumers()

        deadline = time.monotonic() + 30
        while consumer_name(drain_id) in names:
            assert time.monotonic() < deadline, child.log_tail()
            await asyncio.sleep(0.2)
            await refresh()
    finally:
        await asyncio.to_thread(child.stop)
        await stream.close()
        db.close()
    assert received() == LINES  # nothing twice, even after the drain went
