"""A drain's worker and the drainer over the in-memory stream and a destination fake: lines go
in order and once, are acknowledged only after the destination took them, a failing
destination is retried with a growing pause while the state says why and since when, and the
drainer starts, stops and cleans up consumers as drains come and go."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from dockyard.domain.drain import Drain, DrainKind, DrainSpec, DrainState, consumer_name
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs.drain import DrainSettings, DrainWorker
from dockyard.logs.drainer import Drainer, DrainerSettings
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source

pytestmark = pytest.mark.timeout(30)

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
T0 = int(CREATED.timestamp() * 1e9) + 1_000
WEB = Source("alpha", "web", Environment.TEST, "i1")
WEB2 = Source("alpha", "web", Environment.TEST, "i2")
API = Source("alpha", "api", Environment.TEST, "i3")
BRAVO = Source("bravo", "web", Environment.TEST, "i4")


class Receiver:
    """A destination that refuses its first `refusals` sends, then keeps what it is sent."""

    def __init__(self, refusals: int = 0) -> None:
        self.refusals = refusals
        self.lines: list[tuple[str, int]] = []
        self.closed = False

    async def send(self, batches: Sequence[Batch]) -> None:
        if self.refusals:
            self.refusals -= 1
            raise Unavailable("the receiver answered 503")
        self.lines.extend((b.source.instance, ln.seq) for b in batches for ln in b.lines)

    async def close(self) -> None:
        self.closed = True


class Pauses:
    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _drain(drain_id: int = 1, **spec: object) -> Drain:
    values: dict[str, object] = {
        "team": "alpha",
        "name": f"d{drain_id}",
        "kind": DrainKind.HTTP,
        "url": "http://127.0.0.1:9/",
        **spec,
    }
    return Drain(id=drain_id, spec=DrainSpec(**values), created_at=CREATED)  # type: ignore[arg-type]


def _batch(source: Source, first: int, count: int = 2) -> Batch:
    return Batch(
        source, tuple(Line(first + i, T0 + first + i, "stdout", "x") for i in range(count))
    )


def _worker(
    stream: MemoryLogStream, receiver: Receiver, pauses: Pauses, drain: Drain | None = None
) -> DrainWorker:
    settings = DrainSettings(fetch_wait_s=0.01, retry_first_s=0.5, retry_max_s=4.0)
    return DrainWorker(
        drain or _drain(), stream, receiver, settings=settings, sleep=pauses, clock=lambda: T0
    )


async def test_lines_go_in_order_per_instance_and_are_acknowledged_after_they_are_taken() -> None:
    stream, receiver = MemoryLogStream(), Receiver()
    for b in (_batch(WEB, 1), _batch(WEB2, 1), _batch(WEB, 3), _batch(BRAVO, 1)):
        await stream.publish(b)
    worker = _worker(stream, receiver, Pauses())
    assert await worker.step() == 6
    assert receiver.lines == [("i1", 1), ("i1", 2), ("i2", 1), ("i2", 2), ("i1", 3), ("i1", 4)]
    assert await stream.backlog(worker.consumer) == 0
    assert worker.state(pending=0).delivered == 6


async def test_a_failing_destination_is_retried_with_a_growing_pause_and_says_why() -> None:
    stream, receiver, pauses = MemoryLogStream(), Receiver(refusals=5), Pauses()
    await stream.publish(_batch(WEB, 1))
    worker = _worker(stream, receiver, pauses)
    seen: list[DrainState] = []

    async def pause(seconds: float) -> None:
        await pauses(seconds)
        seen.append(worker.state(pending=1))

    worker._sleep = pause
    await worker.step()
    assert pauses.taken == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert receiver.lines == [("i1", 1), ("i1", 2)]
    assert seen[-1].last_error == "the receiver answered 503"
    assert seen[-1].oldest_undelivered == datetime.fromtimestamp((T0 + 1) / 1e9, UTC)
    state = worker.state(pending=0)
    assert (state.delivered, state.oldest_undelivered) == (2, None)
    assert state.last_success_at is not None


async def test_only_the_filtered_services_lines_are_sent_the_others_acknowledged() -> None:
    stream, receiver = MemoryLogStream(), Receiver()
    for b in (_batch(API, 1), _batch(WEB, 1)):
        await stream.publish(b)
    worker = _worker(stream, receiver, Pauses(), _drain(services=("web", "db")))
    await worker.step()
    assert receiver.lines == [("i1", 1), ("i1", 2)]
    assert await stream.backlog(worker.consumer) == 0


async def test_a_batch_delivered_again_is_not_sent_twice_and_a_gap_counts_as_lost() -> None:
    stream, receiver = MemoryLogStream(), Receiver()
    await stream.publish(_batch(WEB, 1, 3))
    worker = _worker(stream, receiver, Pauses())
    await worker.step()
    await stream.publish(_batch(WEB, 2, 3))  # overlaps: 2 and 3 were sent already
    await stream.publish(_batch(WEB, 9, 1))  # 5..8 never reached this drain
    await worker.step()
    assert [seq for _, seq in receiver.lines] == [1, 2, 3, 4, 9]
    assert (worker.counters.repeated, worker.counters.lost) == (2, 4)


async def test_lines_older_than_the_drain_are_not_sent() -> None:
    stream, receiver = MemoryLogStream(), Receiver()
    await stream.publish(Batch(WEB, (Line(1, T0 - 10**12, "stdout", "before"),)))
    await stream.publish(_batch(WEB, 2))
    worker = _worker(stream, receiver, Pauses())
    await worker.step()
    assert [seq for _, seq in receiver.lines] == [2, 3]


async def test_the_drainer_follows_the_drain_list_and_records_state() -> None:
    stream = MemoryLogStream()
    drains = [_drain(1), _drain(2, team="bravo")]
    receivers = {1: Receiver(), 2: Receiver()}
    saved: dict[int, DrainState] = {}

    async def load() -> list[Drain]:
        return list(drains)

    async def save(drain_id: int, state: DrainState) -> None:
        saved[drain_id] = state

    drainer = Drainer(
        stream,
        load=load,
        save=save,
        settings=DrainerSettings(reread_s=0.01, drain=DrainSettings(fetch_wait_s=0.01)),
        destinations=lambda d: receivers[d.id],
    )
    await stream.publish(_batch(WEB, 1))
    await stream.publish(_batch(BRAVO, 1))
    await stream.fetch("drain_99", max_batches=1, timeout_s=0.01)  # a drain removed long ago
    await drainer.sync()
    for _ in range(200):
        if receivers[1].lines and receivers[2].lines:
            break
        await asyncio.sleep(0.01)
    assert receivers[1].lines == [("i1", 1), ("i1", 2)]
    assert receivers[2].lines == [("i4", 1), ("i4", 2)]
    await drainer.report()
    assert saved[1].delivered == 2 and saved[1].pending == 0
    assert "drain_99" not in await stream.consumers()
    drains.pop()
    await drainer.sync()
    assert set(drainer.workers) == {1}
    assert receivers[2].closed
    assert consumer_name(2) not in await stream.consumers()
    run = asyncio.create_task(drainer.run())
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert receivers[1].closed


async def test_a_drain_that_cannot_start_records_why() -> None:
    from dockyard.domain.errors import Invalid

    saved: dict[int, DrainState] = {}

    async def load() -> list[Drain]:
        return [_drain(1)]

    async def save(drain_id: int, state: DrainState) -> None:
        saved[drain_id] = state

    def refuse(drain: Drain) -> Receiver:
        raise Invalid("CA file /nope cannot be used")

    drainer = Drainer(MemoryLogStream(), load=load, save=save, destinations=refuse)
    await drainer.sync()
    await drainer.report()
    assert saved[1].last_error == "CA file /nope cannot be used"
