"""The archiver over the in-memory stream and a local archive: acks only after objects are
written, no line lost or doubled across redeliveries and restarts, objects cut at hours, sizes
and flush intervals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs import wire
from dockyard.logs.archive import Archive, HourFile
from dockyard.logs.archiver import Archiver, Limits, Ranges, due
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
T0_S = T0.timestamp()
T0_NS = int(T0_S) * 1_000_000_000
HOUR_NS = 3600 * 1_000_000_000


@dataclass
class Clock:
    now: float = T0_S + 60

    def __call__(self) -> float:
        return self.now


def source(instance: str = "a1", channel: str = "console") -> Source:
    return Source("shop", "cart", Environment.TEST, instance, channel, "host-1")


def batch(first: int, last: int, *, src: Source | None = None, start_ns: int = T0_NS) -> Batch:
    lines = tuple(
        Line(n, start_ns + n * 1_000_000, "stdout", f"line {n}") for n in range(first, last + 1)
    )
    return Batch(src or source(), lines)


def unacked(stream: MemoryLogStream) -> int:
    return len(stream._consumers["archiver"].pending)  # the fake's own books


def archived(archive: Archive, instance: str = "a1") -> list[int]:
    """Every line number archived for the instance, in the order the reader gives them."""
    lines = archive.lines(
        "shop", "cart", "test", since=T0 - timedelta(days=1), until=T0 + timedelta(days=1),
        instance=instance,
    )  # fmt: skip
    return [x.line.seq for x in lines]


def objects(archive: Archive) -> list[str]:
    files = archive.files("shop", "cart", "test", since=T0 - timedelta(days=7))
    return sorted(f"{f.hour:%d %H} {f.instance} {f.first_seq}-{f.last_seq}" for f in files)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(str(tmp_path / "archive"))


@pytest.fixture
def stream() -> MemoryLogStream:
    return MemoryLogStream()


def archiver(stream: MemoryLogStream, archive: Archive, clock: Clock, **limits: float) -> Archiver:
    return Archiver(stream, archive, clock=clock, limits=Limits(**limits))  # type: ignore[arg-type]


async def test_a_batch_is_acknowledged_only_after_its_object_is_written(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock, flush_interval_s=60)
    await stream.publish(batch(1, 10))
    await stream.publish(batch(11, 20))
    await worker.step(timeout_s=0.01)
    assert (unacked(stream), objects(archive)) == (2, [])
    assert worker.sources == {}  # counted once written, not when buffered
    clock.now += 60
    await worker.step(timeout_s=0.01)
    assert (unacked(stream), objects(archive)) == (0, ["06 10 a1 1-20"])
    assert archived(archive) == list(range(1, 21))
    tally = worker.sources[source().key]
    assert (tally.lines, tally.newest_ns) == (20, T0_NS + 20 * 1_000_000)


async def test_redelivery_while_buffered_is_acknowledged_with_the_buffer(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock)
    await stream.publish(batch(1, 10))
    await worker.step(timeout_s=0.01)
    stream.lapse("archiver")  # the ack wait ran out while the lines sat in a buffer
    await worker.step(timeout_s=0.01)
    await worker.flush()
    assert (unacked(stream), archived(archive)) == (0, list(range(1, 11)))


async def test_a_restart_between_write_and_ack_archives_nothing_twice(
    stream: MemoryLogStream, archive: Archive, tmp_path: Path
) -> None:
    clock = Clock()
    first = archiver(stream, archive, clock)
    await stream.publish(batch(1, 10))
    await stream.publish(batch(11, 20))
    await first.step(timeout_s=0.01)
    for state in first._sources.values():  # written, then killed before the acks went out
        for buffer in state.buffers:
            archive.write(buffer.file, buffer.spool.reader())
    await stream.publish(batch(21, 30))
    stream.lapse("archiver")
    second = archiver(stream, Archive(archive.url), clock)
    await second.step(timeout_s=0.01)
    assert unacked(stream) == 1  # 1-10 and 11-20 are known from the object's name
    await second.flush()
    assert (unacked(stream), objects(archive)) == (0, ["06 10 a1 1-20", "06 10 a1 21-30"])
    assert archived(archive) == list(range(1, 31))


async def test_a_batch_resent_cut_at_other_places_keeps_each_line_once(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock)
    for first, last in ((1, 10), (5, 15), (3, 20), (18, 25)):
        await stream.publish(batch(first, last))
        await worker.step(timeout_s=0.01)
        await worker.flush()
    assert unacked(stream) == 0
    assert archived(archive) == list(range(1, 26))
    assert objects(archive) == [
        "06 10 a1 1-10",
        "06 10 a1 11-15",
        "06 10 a1 16-20",
        "06 10 a1 21-25",
    ]


async def test_the_hours_lines_go_out_when_the_next_hour_begins(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock(now=T0_S + 3590)
    worker = archiver(stream, archive, clock)
    await stream.publish(batch(1, 5, start_ns=T0_NS + 3590 * 1_000_000_000))
    await stream.publish(batch(6, 10, start_ns=T0_NS + HOUR_NS))  # 11:00
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 a1 1-5"]
    assert unacked(stream) == 1
    clock.now = T0_S + 2 * 3600 + 30  # 11:00's hour and grace are over
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 a1 1-5", "06 11 a1 6-10"]
    assert unacked(stream) == 0


async def test_a_line_whose_clock_went_back_stays_in_its_predecessors_hour(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock)
    lines = (
        Line(1, T0_NS + HOUR_NS - 1, "stdout", "10:59"),
        Line(2, T0_NS + HOUR_NS + 1, "stdout", "11:00"),
        Line(3, T0_NS + HOUR_NS - 2, "stderr", "10:59, written late"),
        Line(4, T0_NS + HOUR_NS + 2, "stdout", "11:00"),
    )
    await stream.publish(Batch(source(), lines))
    await worker.step(timeout_s=0.01)
    await worker.flush()
    assert objects(archive) == ["06 10 a1 1-1", "06 11 a1 2-4"]
    assert archived(archive) == [1, 2, 3, 4]


async def test_a_full_buffer_is_written_and_the_hour_goes_on_in_a_new_object(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock, max_lines=100)
    for first in range(1, 251, 10):
        await stream.publish(batch(first, first + 9))
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 a1 1-100", "06 10 a1 101-200"]
    assert unacked(stream) == 5
    await worker.flush()
    assert objects(archive) == ["06 10 a1 1-100", "06 10 a1 101-200", "06 10 a1 201-250"]
    assert archived(archive) == list(range(1, 251))


async def test_buffers_over_the_memory_budget_spill_to_disk_and_still_archive(
    stream: MemoryLogStream, archive: Archive, tmp_path: Path
) -> None:
    clock = Clock()
    worker = Archiver(
        stream, archive, clock=clock, limits=Limits(memory_bytes=4096), spool_dir=tmp_path
    )
    for name in ("a1", "b2", "c3"):
        for first in range(1, 301, 50):
            await stream.publish(batch(first, first + 49, src=source(name)))
    await worker.step(timeout_s=0.01)
    assert worker._in_memory <= 4096
    await worker.flush()
    assert [archived(archive, name) for name in ("a1", "b2", "c3")] == [list(range(1, 301))] * 3


async def test_merged_instances_read_back_in_time_order(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock)
    await stream.publish(batch(1, 20, src=source("a1")))
    await stream.publish(batch(1, 20, src=source("b2"), start_ns=T0_NS + 500_000))
    await worker.step(timeout_s=0.01)
    await worker.flush()
    lines = list(archive.lines("shop", "cart", "test", since=T0, until=T0 + timedelta(hours=1)))
    assert [(x.source.instance, x.line.seq) for x in lines][:4] == [
        ("a1", 1), ("b2", 1), ("a1", 2), ("b2", 2),
    ]  # fmt: skip


class BrokenArchive(Archive):
    """An archive whose store refuses writes until `healed`."""

    healed = False

    def write(self, file: HourFile, ndjson: IO[bytes]) -> int:
        if not self.healed:
            raise Unavailable("the log archive is down")
        return super().write(file, ndjson)


async def test_while_the_archive_is_down_nothing_is_acknowledged_and_writes_resume(
    stream: MemoryLogStream, tmp_path: Path
) -> None:
    clock = Clock()
    archive = BrokenArchive(str(tmp_path / "archive"))
    worker = archiver(stream, archive, clock, retry_s=5)
    await stream.publish(batch(1, 10))
    await worker.step(timeout_s=0.01)
    await worker.flush()
    assert (unacked(stream), objects(archive)) == (1, [])
    archive.healed = True
    clock.now += 60
    await worker.step(timeout_s=0.01)
    assert (unacked(stream), archived(archive)) == (0, list(range(1, 11)))


async def test_holding_max_held_batches_writes_everything_and_stops_fetching(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    worker = archiver(stream, archive, clock, max_held=3, max_batches=3)
    for first in range(1, 60, 10):
        await stream.publish(batch(first, first + 9))
    await worker.step(timeout_s=0.01)
    assert (worker.held, objects(archive)) == (0, ["06 10 a1 1-30"])
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 a1 1-30", "06 10 a1 31-60"]


async def test_an_undecodable_batch_is_terminated(archive: Archive) -> None:
    class Garbage:
        terminated = False

        @property
        def batch(self) -> Batch:
            return wire.decode(b"not json")

        async def ack(self) -> None:
            raise AssertionError("acked")

        async def nak(self, *, delay_s: float = 0.0) -> None:
            raise AssertionError("nakked")

        async def term(self) -> None:
            self.terminated = True

    garbage = Garbage()
    await archiver(MemoryLogStream(), archive, Clock()).take(garbage)
    assert garbage.terminated


async def test_run_cleans_temporaries_and_flushes_on_stop(
    stream: MemoryLogStream, archive: Archive, tmp_path: Path
) -> None:
    leftover = tmp_path / "archive/team=shop/service=cart/env=test/date=2026-12-06/hour=10"
    leftover.mkdir(parents=True)
    (leftover / ".tmp-a1.console.1-5.ndjson.zst-00").write_bytes(b"half")
    await stream.publish(batch(1, 10))
    worker = archiver(stream, archive, Clock())
    stop = _StopAfter(worker, held=1)
    await worker.run(stop)
    assert list(leftover.glob(".tmp-*")) == []
    assert (unacked(stream), archived(archive)) == (0, list(range(1, 11)))


class _StopAfter:
    """A stop event that is set once the archiver holds `held` batches."""

    def __init__(self, worker: Archiver, *, held: int) -> None:
        self._worker, self._held = worker, held

    def is_set(self) -> bool:
        return self._worker.held >= self._held


@pytest.mark.parametrize(
    ("sealed", "opened_after_s", "now_after_s", "expected"),
    [
        (True, 0, 0, True),  # sealed: another hour began, a gap, or full
        (False, 0, 59, False),  # open, inside its hour and flush interval
        (False, 0, 60, True),  # flush interval reached
        (False, 3590, 3600 + 29, False),  # the hour ended, grace not over
        (False, 3590, 3600 + 30, True),  # the hour and its grace are over
        (False, 7200, 7200 + 29, False),  # opened after its hour (a backlog): gets a grace
        (False, 7200, 7200 + 30, True),
    ],
)
def test_when_a_buffer_is_due(
    sealed: bool, opened_after_s: float, now_after_s: float, expected: bool
) -> None:
    limits = Limits(flush_interval_s=60, grace_s=30)
    verdict = due(
        sealed=sealed, opened_at=T0_S + opened_after_s, hour=T0, now=T0_S + now_after_s,
        limits=limits,
    )  # fmt: skip
    assert verdict is expected


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ([(1, 5), (6, 9)], [(1, 9)]),
        ([(10, 20), (1, 5)], [(1, 5), (10, 20)]),
        ([(1, 5), (10, 20), (4, 12)], [(1, 20)]),
    ],
)
def test_ranges_merge_what_touches(
    added: list[tuple[int, int]], expected: list[tuple[int, int]]
) -> None:
    ranges = Ranges()
    for first, last in added:
        ranges.add(first, last)
    assert list(ranges) == expected
    assert (expected[0][0] in ranges, expected[-1][1] + 1 in ranges) == (True, False)


async def test_hours_past_the_retention_are_deleted_every_hour(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock(now=T0_S + 60)
    worker = Archiver(stream, archive, clock=clock, keep_days=1)
    await stream.publish(batch(1, 10, start_ns=T0_NS - 2 * 24 * HOUR_NS))  # two days before
    await stream.publish(batch(1, 10, src=source("b2")))
    await worker.step(timeout_s=0.01)  # the first look at the retention: nothing written yet
    await worker.flush()
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["04 10 a1 1-10", "06 10 b2 1-10"]  # an hour has not passed
    clock.now += 3600
    await worker.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 b2 1-10"]


async def test_past_its_cap_the_archive_loses_its_oldest_days_never_today(
    stream: MemoryLogStream, archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="dockyard.logs")
    day = 24 * HOUR_NS
    for days_ago in (3, 2, 0):
        await stream.publish(batch(10 - days_ago, 10 - days_ago, start_ns=T0_NS - days_ago * day))
    clock = Clock(now=T0_S + 60)
    writer = Archiver(stream, archive, clock=clock)
    await writer.step(timeout_s=0.01)
    await writer.flush()
    assert objects(archive) == ["03 10 a1 7-7", "04 10 a1 8-8", "06 10 a1 10-10"]
    sizes = sorted(p.bytes for p in archive.day_parts())
    capped = Archiver(stream, archive, clock=clock, cap_bytes=sum(sizes) - 1)
    await capped.step(timeout_s=0.01)
    assert objects(archive) == ["04 10 a1 8-8", "06 10 a1 10-10"]
    assert (
        "partition=team=shop/service=cart/env=test/date=2026-12-03 reason=host_cap" in caplog.text
    )
    tiny = Archiver(stream, archive, clock=clock, cap_bytes=1)
    await tiny.step(timeout_s=0.01)
    assert objects(archive) == ["06 10 a1 10-10"]  # today's stays, over the cap or not


class CountingArchive(Archive):
    """Counts the listings the archiver makes."""

    listings = 0

    def files(self, *args: object, **kwargs: object) -> list[HourFile]:  # type: ignore[override]
        self.listings += 1
        return super().files(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_restarted_archiver_learns_a_services_sources_from_one_listing(
    stream: MemoryLogStream, archive: Archive
) -> None:
    clock = Clock()
    first = archiver(stream, archive, clock)
    for name in ("a1", "b2", "c3"):
        await stream.publish(batch(1, 10, src=source(name)))
    await first.step(timeout_s=0.01)
    for state in first._sources.values():  # written, then killed before the acks went out
        for buffer in state.buffers:
            archive.write(buffer.file, buffer.spool.reader())
    stream.lapse("archiver")
    counting = CountingArchive(archive.url)
    second = archiver(stream, counting, clock)
    await second.step(timeout_s=0.01)
    assert (counting.listings, unacked(stream)) == (1, 0)
    assert [archived(archive, name) for name in ("a1", "b2", "c3")] == [list(range(1, 11))] * 3


@pytest.mark.parametrize(
    ("ack_wait_s", "max_ack_pending", "flush_interval_s", "max_held", "max_batches"),
    [
        (120, 20_000, 60, 19_744, 256),  # what the archiver's consumer should have
        (30, 1000, 15, 750, 250),  # JetStream's defaults in logs/jetstream.py
        (10, 2, 5, 1, 1),
    ],
)
def test_limits_fit_a_consumers_ack_wait_and_pending_limit(
    ack_wait_s: float, max_ack_pending: int, flush_interval_s: float, max_held: int,
    max_batches: int,
) -> None:  # fmt: skip
    limits = Limits.fitting(ack_wait_s=ack_wait_s, max_ack_pending=max_ack_pending)
    assert (limits.flush_interval_s, limits.max_held, limits.max_batches) == (
        flush_interval_s, max_held, max_batches,
    )  # fmt: skip
