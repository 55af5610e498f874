"""The indexer against the in-memory stream and a real SQLite FTS5 index: commit before ack,
redelivery deduplicated, undecodable batches terminated, failures retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.logs.index import Filters, LogIndex, open_engine
from dockyard.logs.indexer import CONSUMER, Indexer, IndexerSettings
from dockyard.logs.memory_stream import MemoryDelivery, MemoryLogStream
from dockyard.logs.query import parse
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.stream import LogStream

WEB = Source("shop", "web", Environment.TEST, "web-1")
T0 = 1_780_000_000 * 10**9
FAST = IndexerSettings(commit_every_s=0.05, retry_s=0.05)


def batch(first: int, n: int, *, source: Source = WEB, t: int = T0) -> Batch:
    return Batch(
        source, tuple(Line(s, t + s, "stdout", f"line n{s}") for s in range(first, first + n))
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = open_engine("fts5", tmp_path / "index")
    yield opened
    opened.close()


@pytest.fixture
async def stream() -> AsyncIterator[MemoryLogStream]:
    yield MemoryLogStream()


def count(index: LogIndex, q: str = "") -> int:
    return index.count(Filters(), parse(q))


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll `check` (state in another task and in SQLite files: nothing to wait on)."""
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_lines_become_searchable_and_are_acknowledged(
    stream: MemoryLogStream, index: LogIndex
) -> None:
    indexer = Indexer(as_stream(stream), index, settings=FAST)
    task = asyncio.create_task(indexer.run())
    try:
        for first in range(1, 1000, 100):
            await stream.publish(batch(first, 100))
        await eventually(lambda: count(index) == 1000)
        assert count(index, "n777") == 1
        await eventually(lambda: not stream._consumers[CONSUMER].pending)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    c = indexer.counters
    assert (c.batches, c.lines, c.duplicates, c.undecodable) == (10, 1000, 0, 0)
    assert c.newest_ns == T0 + 1000
    assert c.commits >= 1
    assert c.lag_s(T0 + 1000 + 3 * 10**9) == pytest.approx(3.0)
    assert {k: (t.lines, t.newest_ns) for k, t in c.sources.items()} == {WEB.key: (1000, T0 + 1000)}


async def test_nothing_is_acknowledged_before_its_commit(
    stream: MemoryLogStream, index: LogIndex
) -> None:
    clock = Clock()
    indexer = Indexer(
        as_stream(stream), index, settings=IndexerSettings(commit_every_s=1.0), clock=clock
    )
    await stream.publish(batch(1, 10))
    await indexer.step()
    assert count(index) == 0
    assert len(stream._consumers[CONSUMER].pending) == 1
    clock.now = 1.0
    await indexer.step()
    assert count(index) == 10
    assert not stream._consumers[CONSUMER].pending


async def test_a_burst_commits_before_the_interval(
    stream: MemoryLogStream, index: LogIndex
) -> None:
    settings = IndexerSettings(commit_every_s=60, max_pending_lines=50)
    indexer = Indexer(as_stream(stream), index, settings=settings, clock=Clock())
    await stream.publish(batch(1, 60))
    await indexer.step()
    assert count(index) == 60


async def test_killed_before_commit_the_batches_come_again_and_are_indexed_once(
    stream: MemoryLogStream, tmp_path: Path
) -> None:
    first = open_engine("fts5", tmp_path / "i")
    dead = Indexer(
        as_stream(stream), first, settings=IndexerSettings(commit_every_s=60), clock=Clock()
    )
    await stream.publish(batch(1, 50))
    await dead.step()  # staged, not committed: then the process dies
    first.close()
    stream.lapse(CONSUMER)
    second = open_engine("fts5", tmp_path / "i")
    try:
        alive = Indexer(as_stream(stream), second, settings=FAST)
        await stream.publish(batch(51, 50))
        await asyncio.wait_for(_steps(alive, 3), 5)
        assert count(second) == 100
        assert (alive.counters.lines, alive.counters.duplicates) == (100, 0)
    finally:
        second.close()


@dataclass
class Unacked:
    """A delivery whose process dies right after the commit: its ack never reaches the stream."""

    inner: MemoryDelivery

    @property
    def batch(self) -> Batch:
        return self.inner.batch

    async def ack(self) -> None:
        pass

    async def nak(self, *, delay_s: float = 0.0) -> None:
        await self.inner.nak(delay_s=delay_s)

    async def term(self) -> None:
        await self.inner.term()


class DyingStream:
    """The stream as seen by an indexer that dies after each commit, before its acks."""

    def __init__(self) -> None:
        self.inner = MemoryLogStream()

    async def fetch(self, consumer: str, *, max_batches: int, timeout_s: float) -> list[Unacked]:
        got = await self.inner.fetch(consumer, max_batches=max_batches, timeout_s=timeout_s)
        return [Unacked(d) for d in got]


async def test_killed_after_commit_before_ack_the_redelivery_adds_nothing(
    tmp_path: Path, index: LogIndex
) -> None:
    stream = DyingStream()
    await stream.inner.publish(batch(1, 40))
    await stream.inner.publish(batch(41, 40))
    clock = Clock()
    dying = Indexer(
        as_stream(stream), index, settings=IndexerSettings(commit_every_s=0), clock=clock
    )
    await dying.step()
    assert count(index) == 80
    stream.inner.lapse(CONSUMER)
    again = Indexer(
        as_stream(stream), index, settings=IndexerSettings(commit_every_s=0), clock=clock
    )
    await again.step()
    assert count(index) == 80
    assert (again.counters.lines, again.counters.duplicates) == (0, 80)
    assert dying.counters.sources[WEB.key].lines == 80 and again.counters.sources == {}


@dataclass
class Garbled:
    terminated: bool = False

    @property
    def batch(self) -> Batch:
        raise Invalid("not a log batch: garbled")

    async def ack(self) -> None:
        raise AssertionError("an undecodable batch is terminated, not acknowledged")

    async def nak(self, *, delay_s: float = 0.0) -> None:
        raise AssertionError("an undecodable batch is terminated, not retried")

    async def term(self) -> None:
        self.terminated = True


class GarbledStream:
    """A stream whose every fetch starts with a message that does not decode."""

    def __init__(self) -> None:
        self.inner = MemoryLogStream()
        self.garbled = Garbled()

    async def fetch(self, consumer: str, *, max_batches: int, timeout_s: float) -> list[object]:
        got = await self.inner.fetch(consumer, max_batches=max_batches, timeout_s=timeout_s)
        return [self.garbled, *got]


async def test_undecodable_batches_are_terminated_and_counted(index: LogIndex) -> None:
    stream = GarbledStream()
    await stream.inner.publish(batch(1, 5))
    indexer = Indexer(as_stream(stream), index, settings=IndexerSettings(commit_every_s=0))
    await indexer.step()
    assert stream.garbled.terminated
    assert indexer.counters.undecodable == 1
    assert count(index) == 5


async def test_a_stream_outage_is_retried_not_fatal(
    stream: MemoryLogStream, index: LogIndex
) -> None:
    indexer = Indexer(as_stream(stream), index, settings=FAST)
    stream.down = True
    task = asyncio.create_task(indexer.run())
    try:
        await eventually(lambda: indexer.counters.failures >= 2)
        stream.down = False
        await stream.publish(batch(1, 10))
        await eventually(lambda: count(index) == 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def as_stream(stream: object) -> LogStream:
    """MemoryLogStream.fetch is typed `list[MemoryDelivery]`, which a `list[Delivery]`
    protocol does not accept (lists are invariant); it behaves as a LogStream."""
    return cast(LogStream, stream)


async def _steps(indexer: Indexer, n: int) -> None:
    for _ in range(n):
        await indexer.step()


@pytest.mark.parametrize("engine", ["fts5", "tantivy"])
async def test_a_line_is_searchable_elsewhere_within_two_seconds(
    stream: MemoryLogStream, tmp_path: Path, engine: str
) -> None:
    writer = open_engine(engine, tmp_path / "i")
    reader = open_engine(engine, tmp_path / "i")  # as the server's own handle would
    indexer = Indexer(as_stream(stream), writer)  # default settings
    task = asyncio.create_task(indexer.run())
    try:
        for n in range(1, 6):
            published = asyncio.get_running_loop().time()
            await stream.publish(batch(n, 1))
            await eventually(lambda n=n: count(reader, f"n{n}") == 1, timeout_s=5)  # type: ignore[misc]
            assert asyncio.get_running_loop().time() - published < 2.0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.close()
        reader.close()


async def test_batches_a_killed_indexer_had_fetched_are_not_overtaken_by_newer_ones(
    stream: MemoryLogStream, tmp_path: Path
) -> None:
    """The stream hands a restarted consumer new batches at once and what the dead one had
    fetched only after its ack wait: those newer batches wait, so nothing is skipped."""
    first = open_engine("fts5", tmp_path / "i")
    dead = Indexer(as_stream(stream), first, settings=IndexerSettings(commit_every_s=60))
    for n in range(3):
        await stream.publish(batch(1 + 20 * n, 20))
    await dead.step()  # fetched 1..60, never committed: the process dies
    first.close()
    second = open_engine("fts5", tmp_path / "i")
    try:
        alive = Indexer(as_stream(stream), second, settings=FAST)
        await stream.publish(batch(61, 20))
        await stream.publish(batch(81, 20))
        await alive.step()  # only 61..100 come: they are put back
        assert alive.counters.held_back == 2 and count(second) == 0
        stream.lapse(CONSUMER)  # the ack wait ran out: 1..60 come again
        await asyncio.wait_for(_steps(alive, 4), 5)
        assert count(second) == 100
        assert (alive.counters.lines, alive.counters.duplicates, alive.counters.gaps) == (100, 0, 0)
    finally:
        second.close()
