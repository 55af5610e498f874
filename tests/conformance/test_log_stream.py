"""The LogStream contract (logs/stream.py), one suite run against the in-memory fake and against
JetStream on a real nats-server.

Each backend arranges a situation its own way (the fake by its switches, JetStream by stopping
and restarting a nats-server of the test's own, with a 1 s ack wait) and the assertions on the
outcome are the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs import wire
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.raw import RawBatch, RawLines
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.stream import Delivery, LogStream
from tests.support.nats import NatsServer, nats_or_skip

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")
ACK_WAIT_S = 1.0
RECOVERY_S = 20.0
WEB = Source("shop", "web", Environment.TEST, "i-1")
API = Source("shop", "api", Environment.TEST, "i-2")


class Backend(Protocol):
    stream: LogStream

    async def lapse(self, consumer: str) -> None:
        """Let the ack wait run out for `consumer`'s unacknowledged batches."""

    async def go_down(self) -> None: ...

    async def come_back(self) -> None: ...

    async def restart(self) -> None:
        """The stream's server stops and starts again (its store kept)."""

    async def reopen(self) -> None:
        """The caller restarts: `stream` is a new client of the same stream."""


class Memory:
    def __init__(self) -> None:
        self.fake = MemoryLogStream()
        self.stream: LogStream = self.fake

    async def lapse(self, consumer: str) -> None:
        self.fake.lapse(consumer)

    async def go_down(self) -> None:
        self.fake.down = True

    async def come_back(self) -> None:
        self.fake.down = False

    async def restart(self) -> None:
        await self.go_down()
        await self.come_back()

    async def reopen(self) -> None:
        pass  # the fake is its own store: nothing to connect again


class JetStream:
    def __init__(self, server: NatsServer) -> None:
        self.server = server
        self.stream: LogStream = self._open()

    def _open(self) -> JetStreamLogStream:
        return JetStreamLogStream([self.server.url], max_bytes=64 << 20, ack_wait_s=ACK_WAIT_S)

    async def lapse(self, consumer: str) -> None:
        await asyncio.sleep(ACK_WAIT_S + 0.3)

    async def go_down(self) -> None:
        await asyncio.to_thread(self.server.stop)

    async def come_back(self) -> None:
        await asyncio.to_thread(self.server.start)

    async def restart(self) -> None:
        await asyncio.to_thread(self.server.restart)

    async def reopen(self) -> None:
        await self.stream.close()
        self.stream = self._open()


@pytest.fixture(params=["memory", "jetstream"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Memory()
        return
    server = nats_or_skip()
    chosen = JetStream(server)
    try:
        yield chosen
    finally:
        await chosen.stream.close()
        server.remove()


def batch(source: Source, first: int, count: int = 1) -> Batch:
    lines = tuple(Line(first + i, 1_000 + i, "stdout", f"line {first + i}") for i in range(count))
    return Batch(source, lines)


def seqs(deliveries: Sequence[Delivery]) -> list[int]:
    return [d.batch.first_seq for d in deliveries]


async def fetch_all(stream: LogStream, consumer: str, *, timeout_s: float = 1.0) -> list[Delivery]:
    """Every batch the consumer is due now (fetches until one comes back empty)."""
    out: list[Delivery] = []
    for _ in range(100):
        got = await stream.fetch(consumer, max_batches=50, timeout_s=timeout_s)
        if not got:
            return out
        out.extend(got)
        timeout_s = 0.3
    raise AssertionError("the consumer never ran dry")


async def ack_all(deliveries: Sequence[Delivery]) -> None:
    for delivery in deliveries:
        await delivery.ack()


async def retrying(call: Callable[[], Awaitable[T]], *, timeout_s: float = RECOVERY_S) -> T:
    """`call` again while it raises Unavailable, as the agent and the consumers do."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await call()
        except Unavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_a_batch_published_twice_is_stored_once(backend: Backend) -> None:
    stream = backend.stream
    for sent in (batch(WEB, 1, 3), batch(WEB, 1, 3), batch(WEB, 4), batch(API, 1)):
        await stream.publish(sent)
    got = await fetch_all(stream, "indexer")
    assert [(d.batch.source, d.batch.first_seq) for d in got] == [(WEB, 1), (WEB, 4), (API, 1)]
    assert got[0].batch == batch(WEB, 1, 3)


async def test_a_durable_consumer_starts_at_the_oldest_batch_and_keeps_its_place(
    backend: Backend,
) -> None:
    for first in (1, 2, 3):
        await backend.stream.publish(batch(WEB, first))
    first_two = await backend.stream.fetch("indexer", max_batches=2, timeout_s=2)
    assert seqs(first_two) == [1, 2]
    await ack_all(first_two)
    await backend.reopen()
    await backend.stream.publish(batch(WEB, 4))
    rest = await fetch_all(backend.stream, "indexer")
    assert seqs(rest) == [3, 4]


async def test_consumers_each_get_every_batch(backend: Backend) -> None:
    for first in (1, 2):
        await backend.stream.publish(batch(WEB, first))
    indexed = await fetch_all(backend.stream, "indexer")
    await ack_all(indexed)
    assert seqs(indexed) == [1, 2]
    assert seqs(await fetch_all(backend.stream, "archiver")) == [1, 2]


async def test_an_unacknowledged_batch_is_delivered_again_after_the_ack_wait(
    backend: Backend,
) -> None:
    for first in (1, 2, 3):
        await backend.stream.publish(batch(WEB, first))
    got = await fetch_all(backend.stream, "indexer")
    await got[0].ack()
    await got[2].ack()
    assert await backend.stream.fetch("indexer", max_batches=10, timeout_s=0.3) == []
    await backend.lapse("indexer")
    again = await fetch_all(backend.stream, "indexer")
    assert seqs(again) == [2]
    await again[0].ack()
    await backend.lapse("indexer")
    assert await backend.stream.fetch("indexer", max_batches=10, timeout_s=0.3) == []


async def test_a_nak_delivers_again_and_a_term_never(backend: Backend) -> None:
    for first in (1, 2):
        await backend.stream.publish(batch(WEB, first))
    got = await fetch_all(backend.stream, "indexer")
    await got[0].nak()
    await got[1].term()
    again = await fetch_all(backend.stream, "indexer")
    assert seqs(again) == [1]
    await again[0].ack()
    await backend.lapse("indexer")
    assert await backend.stream.fetch("indexer", max_batches=10, timeout_s=0.3) == []


async def test_a_filtered_consumer_gets_only_its_subjects_and_tells_its_backlog(
    backend: Backend,
) -> None:
    stream, web_only = backend.stream, "dockyard.logs.shop.web.>"
    for n in (1, 2):
        await stream.publish(batch(WEB, n))
        await stream.publish(batch(API, n))
    got = await fetch_all(stream, "drain_1", timeout_s=2.0)
    assert await stream.backlog("drain_1") == 4  # made without a filter: it takes everything
    await ack_all(got)
    first = await stream.fetch("drain_2", max_batches=1, timeout_s=2, subject=web_only)
    assert [d.batch.source for d in first] == [WEB]
    assert await stream.backlog("drain_2") == 2  # one delivered, one still to come
    await ack_all(first)
    rest = await fetch_all(stream, "drain_2")
    assert [(d.batch.source, d.batch.first_seq) for d in rest] == [(WEB, 2)]
    await ack_all(rest)
    assert await stream.backlog("drain_2") == 0
    assert await stream.backlog("never_made") == 0


async def test_a_consumer_may_start_at_a_time_and_a_removed_one_starts_afresh(
    backend: Backend,
) -> None:
    stream, now_ns = backend.stream, time.time_ns()
    await stream.publish(Batch(WEB, (Line(1, now_ns - 10**12, "stdout", "old"),)))
    await asyncio.sleep(0.05)  # JetStream compares the time it stored each batch
    start_ns = time.time_ns()
    await asyncio.sleep(0.05)
    await stream.publish(Batch(WEB, (Line(2, time.time_ns(), "stdout", "new"),)))
    got = await _fetch_from(stream, "drain_3", start_ns)
    assert seqs(got) == [2]
    await ack_all(got)
    assert "drain_3" in await stream.consumers()
    await stream.remove("drain_3")
    assert "drain_3" not in await stream.consumers()
    await stream.remove("drain_3")  # absent: still fine
    again = await stream.fetch("drain_3", max_batches=10, timeout_s=2)
    assert seqs(again) == [1, 2]


async def _fetch_from(stream: LogStream, consumer: str, start_ns: int) -> list[Delivery]:
    return list(await stream.fetch(consumer, max_batches=10, timeout_s=2, start_ns=start_ns))


async def test_follow_gets_only_new_batches_that_match_its_filter(backend: Backend) -> None:
    stream = backend.stream
    await stream.publish(batch(WEB, 1))  # before the tail: never shown to it
    seen: list[Batch] = []
    tail = asyncio.create_task(_collect(stream.follow("dockyard.logs.shop.web.>"), seen))
    try:
        # The tail subscribes on its own time: publish until it shows the first new batch.
        first = 2
        while not seen:
            await stream.publish(batch(API, first))
            await stream.publish(batch(WEB, first))
            first += 1
            assert first < 200, "the tail never showed a batch"
            await asyncio.sleep(0.05)
        await stream.publish(batch(WEB, first))
        await _until(lambda: seen[-1].first_seq == first)
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
    assert {b.source for b in seen} == {WEB}
    numbers = [b.first_seq for b in seen]
    assert 1 not in numbers
    assert numbers == sorted(numbers) and numbers[-1] == first


async def test_follow_since_a_time_replays_what_was_stored_from_then_on(backend: Backend) -> None:
    stream = backend.stream
    now_ns = time.time_ns()
    stored = Batch(WEB, (Line(1, now_ns, "stdout", "stored before the tail"),))
    await stream.publish(stored)
    await stream.publish(Batch(API, (Line(1, now_ns, "stdout", "another service"),)))
    seen: list[Batch] = []
    since = now_ns - 30 * 10**9
    tail = asyncio.create_task(
        _collect(stream.follow("dockyard.logs.shop.web.>", since_ns=since), seen)
    )
    try:
        await _until(lambda: bool(seen))
        await stream.publish(Batch(WEB, (Line(2, time.time_ns(), "stdout", "new"),)))
        await _until(lambda: seen[-1].first_seq == 2)
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
    assert [b.first_seq for b in seen] == [1, 2]
    assert {b.source for b in seen} == {WEB}


async def test_every_verb_raises_unavailable_while_the_stream_is_down(backend: Backend) -> None:
    await backend.stream.publish(batch(WEB, 1))
    await backend.go_down()
    with pytest.raises(Unavailable, match=r"nats-server|dockyard up"):
        await backend.stream.publish(batch(WEB, 2))
    with pytest.raises(Unavailable):
        await backend.stream.fetch("indexer", max_batches=10, timeout_s=0.5)
    with pytest.raises(Unavailable):
        await anext(backend.stream.follow("dockyard.logs.>"))
    await backend.come_back()
    await retrying(lambda: backend.stream.publish(batch(WEB, 2)))
    got = await retrying(lambda: fetch_all(backend.stream, "indexer"))
    assert seqs(got) == [1, 2]


async def test_nothing_is_lost_across_a_stream_restart(backend: Backend) -> None:
    """The agent publishes 1..N, offering a batch again until it is taken, while the server
    restarts. The indexer takes a batch only if it follows the highest number it holds: one
    already held is acknowledged again, one after a gap is nak'd (a batch lost in flight at the
    restart is redelivered after the ack wait, after later ones). It holds each exactly once."""
    total = 60
    held: list[int] = []

    async def agent() -> None:
        for seq in range(1, total + 1):
            await retrying(partial(backend.stream.publish, batch(WEB, seq)))
            if seq == total // 2:
                await backend.restart()

    async def indexer() -> None:
        while len(held) < total:
            try:
                for delivery in await backend.stream.fetch(
                    "indexer", max_batches=10, timeout_s=0.5
                ):
                    await _take(delivery, held)
            except Unavailable:
                await asyncio.sleep(0.1)

    await asyncio.wait_for(asyncio.gather(agent(), indexer()), RECOVERY_S * 2)
    assert held == list(range(1, total + 1))
    # Acknowledgements sent while the server was down are redelivered: only ones already held.
    await backend.lapse("indexer")
    late = await retrying(lambda: fetch_all(backend.stream, "indexer", timeout_s=0.3))
    assert all(delivery.batch.first_seq <= total for delivery in late)
    await retrying(lambda: ack_all(late))
    await backend.lapse("indexer")
    assert await retrying(lambda: fetch_all(backend.stream, "indexer", timeout_s=0.3)) == []


async def _take(delivery: Delivery, held: list[int]) -> None:
    number = delivery.batch.first_seq
    if number > (held[-1] if held else 0) + 1:
        await delivery.nak(delay_s=0.1)
        return
    if not held or number > held[-1]:
        held.append(number)
    await delivery.ack()


async def _collect(batches: AsyncIterator[Batch], into: list[Batch]) -> None:
    async for found in batches:
        into.append(found)


async def _until(check: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.02)


def raw_batch(source: Source, first: int, texts: list[str]) -> RawBatch:
    """Docker's json-file lines as the agent sends them (logs/raw.py)."""
    data = b"".join(
        b'{"log":"%s\\n","stream":"stderr","time":"2026-12-06T10:00:00.000000042Z"}\n' % t.encode()
        for t in texts
    )
    return RawBatch(source, RawLines(first, len(texts), data, read_ns=7))


async def test_raw_batches_arrive_as_their_lines_beside_decoded_ones_under_one_id(
    backend: Backend,
) -> None:
    """An agent of either wire version may send a source's lines (an upgrade restarts one on
    the other's checkpoint): consumers and tails get lines either way, and the same lines sent
    both ways are stored once."""
    stream = backend.stream
    seen: list[Batch] = []
    tail = asyncio.create_task(_collect(stream.follow("dockyard.logs.shop.api.>"), seen))
    try:
        first = 1
        while not seen:  # the tail subscribes on its own time
            await stream.publish(raw_batch(API, first, [f"warm-up {first}"]))
            first += 1
            assert first < 200, "the tail never showed a batch"
            await asyncio.sleep(0.05)
        sent = raw_batch(WEB, 1, ["one", "two é"])
        await stream.publish(sent)
        await stream.publish(wire.decode(sent.encode()))  # the same lines, version 1: a duplicate
        await stream.publish(batch(WEB, 3))
        await stream.publish(raw_batch(API, first, ["followed"]))
        await _until(lambda: seen[-1].first_seq == first)
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
    got = [d.batch for d in await fetch_all(stream, "indexer") if d.batch.source == WEB]
    stamp = 1_796_551_200_000_000_042
    assert got == [
        Batch(WEB, (Line(1, stamp, "stderr", "one"), Line(2, stamp, "stderr", "two é"))),
        batch(WEB, 3),
    ]
    assert seen[-1].lines == (Line(first, stamp, "stderr", "followed"),)
