"""Build logs through the log pipeline: real builds (busybox images on the real engine), the
build log shipper on a real nats-server, the real `dockyard indexer` process, and searches
through the LogCenter the API uses. A build made while nats-server is down still succeeds,
and its lines are searchable once the server is back, none twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.logs.build_lines import Shipped, build_instance, build_source, to_batches
from dockyard.logs.build_shipper import BuildLogShipper
from dockyard.logs.center import LogCenter
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.index import open_engine
from dockyard.logs.index.base import Filters, Hit, Order
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.store import builds
from dockyard.store.db import Database
from tests.integration.images.build_support import build, set_source
from tests.integration.images.conftest import Center
from tests.support.child import ChildProcess
from tests.support.git_repos import Repo
from tests.support.image_center import ADMIN
from tests.support.nats import NatsServer

STREAM_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024
SEARCHABLE_S = 10.0
"""The log center's promise is a line searchable within 2 s of being written; a loaded
test machine gets some slack, and the test prints what it measured."""


@pytest.fixture
def indexer(own_nats: NatsServer, tmp_path: Path) -> Iterator[Path]:
    """`dockyard indexer` reading `own_nats`; the index directory it writes."""
    index_dir = tmp_path / "index"
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_NATS_URLS": own_nats.url,
        "DOCKYARD_LOG_INDEX_DIR": str(index_dir),
        "DOCKYARD_LOG_STREAM_MAX_BYTES": str(STREAM_BYTES),
        "DOCKYARD_INDEXER_METRICS_ADDR": "",
    }
    child = ChildProcess(
        [sys.executable, "-m", "dockyard.cli", "indexer"], log_file=tmp_path / "indexer.log"
    )
    child.start(env=env)
    try:
        yield index_dir
    finally:
        child.stop()


@contextlib.contextmanager
def shipping(db: Database, url: str, checkpoints: Path) -> Iterator[BuildLogShipper]:
    """The server's build log shipper, running in a thread of its own until the block ends."""
    stream = JetStreamLogStream((url,), max_bytes=STREAM_BYTES, timeout_s=2.0)
    shipper = BuildLogShipper(
        db, stream, CheckpointStore(checkpoints), keep_s=86_400, max_line_bytes=MAX_LINE_BYTES,
        interval_s=0.2,
    )  # fmt: skip
    started = threading.Event()
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        stop.append((asyncio.get_running_loop(), asyncio.Event()))
        started.set()
        task = asyncio.create_task(shipper.run())
        await stop[0][1].wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await shipper.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield shipper
    finally:
        loop, event = stop[0]
        loop.call_soon_threadsafe(event.set)
        thread.join(timeout=30)


def expected(center: Center, number: int, log: str) -> list[tuple[int, str]]:
    """The numbered lines the shipper makes of a finished build's whole log."""
    source = build_source(team=center.team, service="web", number=number, build_id=0)
    batches, _ = to_batches(
        source, log, Shipped(), done=True, time_ns=0, max_line_bytes=MAX_LINE_BYTES
    )
    return [(ln.seq, ln.text) for b in batches for ln in b.lines]


def indexed(center: LogCenter, team: str, instance: str) -> list[Hit]:
    filters = Filters(team=team, service="web", env="build", instances=(instance,))
    hits: list[Hit] = []
    cursor: str | None = None
    while True:
        page = asyncio.run(
            center.search(filters, "", cursor=cursor, order=Order.OLDEST, limit=1000)
        )
        hits.extend(page.hits)
        if page.next_cursor is None:
            return hits
        cursor = page.next_cursor


def wait_indexed(
    logs: LogCenter, team: str, instance: str, want: list[tuple[int, str]], *, timeout_s: float
) -> float:
    """Seconds until the index holds exactly `want` for `instance`; fails after `timeout_s`."""
    start = time.monotonic()
    got: list[tuple[int, str]] = []
    while time.monotonic() - start < timeout_s:
        got = [(hit.seq, hit.text) for hit in indexed(logs, team, instance)]
        if len(got) >= len(want):
            break
        time.sleep(0.1)
    assert got == want
    return time.monotonic() - start


def build_id(db: Database, team: str, number: int) -> int:
    with db.session() as session:
        return builds.read_log(session, ADMIN, team=team, service="web", number=number).build_id


@pytest.fixture
def logs(indexer: Path) -> Iterator[LogCenter]:
    center = LogCenter(open_engine("tantivy", indexer), stream=None, archive=None, index_days=7)
    yield center
    asyncio.run(center.close())


def test_a_builds_lines_are_searchable_in_the_log_center_within_seconds(
    center: Center, repo: Repo, own_nats: NatsServer, logs: LogCenter, tmp_path: Path
) -> None:
    set_source(center, repo.url)
    with shipping(center.parts.db, own_nats.url, tmp_path / "checkpoints"):
        done, log = build(center)
        ended = time.monotonic()
        assert done["state"] == "succeeded", done["reason"]
        instance = build_instance(1, build_id(center.parts.db, center.team, 1))
        want = expected(center, 1, log)
        assert any("==>" in text for _, text in want)
        wait_indexed(logs, center.team, instance, want, timeout_s=SEARCHABLE_S)
        print(f"a build's whole log searchable {time.monotonic() - ended:.2f} s after it ended")
    hit = indexed(logs, center.team, instance)[0]
    assert (hit.env, hit.channel, hit.stream) == ("build", "build", "stdout")
    other = Filters(team="someone-else", service="web", env="build")
    assert asyncio.run(logs.search(other, "", cursor=None, order=Order.OLDEST, limit=10)).hits == ()


def test_a_build_made_while_the_stream_is_down_arrives_once_it_is_back_none_twice(
    center: Center, repo: Repo, own_nats: NatsServer, logs: LogCenter, tmp_path: Path
) -> None:
    set_source(center, repo.url)
    with shipping(center.parts.db, own_nats.url, tmp_path / "checkpoints") as shipper:
        first, first_log = build(center)
        assert first["state"] == "succeeded", first["reason"]
        first_instance = build_instance(1, build_id(center.parts.db, center.team, 1))
        wait_indexed(
            logs, center.team, first_instance, expected(center, 1, first_log), timeout_s=30
        )
        own_nats.stop()
        second, second_log = build(center, force=True)
        assert second["state"] == "succeeded", second["reason"]  # the build never waits
        deadline = time.monotonic() + 30
        while shipper.problem is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert shipper.problem is not None
        own_nats.start()
        instance = build_instance(2, build_id(center.parts.db, center.team, 2))
        wait_indexed(logs, center.team, instance, expected(center, 2, second_log), timeout_s=60)
    # The first build's lines, sent again from a lost checkpoint, are still there once each.
    with shipping(center.parts.db, own_nats.url, tmp_path / "elsewhere"):
        time.sleep(2.0)
    assert [h.seq for h in indexed(logs, center.team, first_instance)] == [
        seq for seq, _ in expected(center, 1, first_log)
    ]
