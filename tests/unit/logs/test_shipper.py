"""The shipper on real files and the in-memory stream: every line once, in order, numbered
without gaps; nothing read while the stream is down; checkpoints only after publish; a restart
resumes under the same numbers; a stopped writer is shipped to the end and marked; one failing
source never stops another."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import cast

import pytest

from dockyard.domain.environment import Environment
from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.reader import Format, ReadLimits
from dockyard.logs.record import Batch, Source
from dockyard.logs.shipper import Followed, Pacing, Shipper
from dockyard.logs.stream import LogStream

FAST = Pacing(poll_s=0.01, retry_min_s=0.01, retry_max_s=0.05)
COMPACT = (",", ":")
SMALL = ReadLimits(max_lines=3, max_bytes=1 << 20, max_s=1.0, chunk_bytes=4096)


def source(instance: str = "i1") -> Source:
    return Source("team", "svc", Environment.TEST, instance)


def write(path: Path, *numbers: int) -> None:
    """Lines in Docker's own compact form, which the shipper sends as they are."""
    with path.open("a") as out:
        for n in numbers:
            out.write(json.dumps({"log": f"{n}\n", "stream": "stdout"}, separators=COMPACT) + "\n")


def numbers(stream: MemoryLogStream, src: Source) -> list[tuple[int, str]]:
    return [(ln.seq, ln.text) for b in stream.batches if b.source == src for ln in b.lines]


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - plain state of the code under test
            await asyncio.sleep(0.01)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Callable[..., Shipper]]:
    """Makes shippers on tmp_path's checkpoints, each running until the test ends."""
    tasks: list[asyncio.Task[None]] = []

    def make(stream: MemoryLogStream, **kwargs: object) -> Shipper:
        # MemoryLogStream.fetch returns list[MemoryDelivery]: lists are invariant, so mypy does
        # not see it as a LogStream, though it is one.
        shipper = Shipper(
            cast(LogStream, stream), CheckpointStore(tmp_path / "cp"), max_line_bytes=1024,
            limits=SMALL, pacing=FAST, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        tasks.append(asyncio.create_task(shipper.run()))
        return shipper

    yield make
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def stop(shipper_task: list[asyncio.Task[None]]) -> None:
    for task in shipper_task:
        task.cancel()
    await asyncio.gather(*shipper_task, return_exceptions=True)


@pytest.mark.timeout(30)
async def test_lines_are_shipped_once_in_order(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "c-json.log"
    write(path, *range(1, 8))
    stream = MemoryLogStream()
    shipper = running(stream)
    shipper.follow(Followed(source(), path), live=True)
    await until(lambda: len(numbers(stream, source())) == 7)
    write(path, 8, 9)
    await until(lambda: len(numbers(stream, source())) == 9)
    assert numbers(stream, source()) == [(n, str(n)) for n in range(1, 10)]
    assert [len(b.lines) for b in stream.batches][:3] == [3, 3, 1]
    counters = shipper.counters.of(source().key)
    assert (counters.lines_read, counters.lines_sent, counters.lost) == (9, 9, 0)
    await until(lambda: (CheckpointStore(tmp_path / "cp").load(source().key) or 0) != 0)


@pytest.mark.timeout(30)
async def test_stream_down_stops_reading_and_counts_the_wait(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "c-json.log"
    write(path, *range(1, 31))
    stream = MemoryLogStream()
    stream.down = True
    shipper = running(stream)
    shipper.follow(Followed(source(), path), live=True)
    counters = shipper.counters.of(source().key)
    await until(lambda: shipper.counters.stream_waiting == 1)
    await asyncio.sleep(0.1)
    # One batch offered to the stream and the next one read meanwhile: the file is the buffer.
    assert counters.lines_read == 6
    assert CheckpointStore(tmp_path / "cp").load(source().key) is None  # nothing stored yet
    stream.down = False
    await until(lambda: len(numbers(stream, source())) == 30)
    assert numbers(stream, source()) == [(n, str(n)) for n in range(1, 31)]
    assert counters.unavailable_s >= 0.1 and shipper.counters.stream_waiting == 0


@pytest.mark.timeout(30)
async def test_restart_resumes_under_the_same_numbers(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "c-json.log"
    write(path, *range(1, 6))
    stream = MemoryLogStream()
    first = running(stream)
    first.follow(Followed(source(), path), live=True)
    await until(lambda: len(numbers(stream, source())) == 5)
    store = CheckpointStore(tmp_path / "cp")
    await until(lambda: getattr(store.load(source().key), "seq", 0) == 5)
    # The agent dies: a new one on the same checkpoints, the stream kept.
    for task in [t for t in asyncio.all_tasks() if t.get_name().startswith("ship ")]:
        task.cancel()
    write(path, 6, 7)
    second = running(stream)
    second.follow(Followed(source(), path), live=True)
    await until(lambda: len(numbers(stream, source())) == 7)
    assert numbers(stream, source()) == [(n, str(n)) for n in range(1, 8)]


@pytest.mark.timeout(30)
async def test_batch_resent_after_a_crash_before_its_checkpoint_is_a_duplicate(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "c-json.log"
    write(path, *range(1, 5))
    stream = MemoryLogStream()
    store = CheckpointStore(tmp_path / "cp")
    first = running(stream)
    first.follow(Followed(source(), path), live=True)
    await until(lambda: len(numbers(stream, source())) == 4)
    for task in [t for t in asyncio.all_tasks() if t.get_name().startswith("ship ")]:
        task.cancel()
    await asyncio.sleep(0.05)
    store.delete(source().key)  # as if the agent died between publish and checkpoint
    second = running(stream)
    second.follow(Followed(source(), path), live=True)
    await until(lambda: store.load(source().key) is not None)
    assert numbers(stream, source()) == [(n, str(n)) for n in range(1, 5)]  # dropped by msg id


@pytest.mark.timeout(30)
async def test_stopped_writer_is_shipped_to_the_end_and_marked(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "c-json.log"
    write(path, 1, 2)
    with path.open("a") as out:  # the container's last words, without a newline
        out.write(json.dumps({"log": "bye", "stream": "stderr"}) + "\n")
    stream = MemoryLogStream()
    shipper = running(stream)
    followed = Followed(source(), path)
    shipper.follow(followed, live=True)
    await until(lambda: len(numbers(stream, source())) >= 2)
    assert not shipper.shipped("i1")
    shipper.follow(followed, live=False)  # the container exited
    await until(lambda: shipper.shipped("i1"))
    assert numbers(stream, source())[-1] == (3, "bye")
    shipper.follow(followed, live=True)  # started again
    assert not shipper.shipped("i1")
    shipper.forget(source().key)  # removed
    await until(lambda: shipper.following() == [])
    assert shipper.shipped("i1")
    assert CheckpointStore(tmp_path / "cp").load(source().key) is None


class BrokenFor(MemoryLogStream):
    """A stream that fails with an unexpected error for one instance's batches."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    async def publish(self, batch: Batch) -> None:
        if batch.source.instance == self.instance:
            raise RuntimeError("boom")
        await super().publish(batch)


@pytest.mark.timeout(30)
async def test_one_failing_source_never_stops_the_others(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    good, bad = tmp_path / "good.log", tmp_path / "bad.log"
    write(good, 1, 2)
    write(bad, 1, 2)
    stream = BrokenFor("bad")
    shipper = running(stream)
    shipper.follow(Followed(source("bad"), bad), live=True)
    shipper.follow(Followed(source("good"), good), live=True)
    await until(lambda: shipper.counters.of(source("bad").key).errors >= 2)
    write(good, 3)
    await until(lambda: len(numbers(stream, source("good"))) == 3)
    assert source("bad").key in shipper.following()


@pytest.mark.timeout(30)
async def test_checkpoint_of_a_container_removed_unfollowed_counts_a_loss(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    store = CheckpointStore(tmp_path / "cp")
    store.save("t/s/test/gone/console", Checkpoint(1, 10, 4))
    store.save("t/s/test/done/console", Checkpoint(1, 10, 9))
    store.mark_shipped("done", {})
    shipper = running(MemoryLogStream())
    shipper.gone_unread("t/s/test/gone/console", "gone")
    shipper.gone_unread("t/s/test/done/console", "done")
    assert shipper.counters.of("t/s/test/gone/console").lost == 1
    assert shipper.counters.of("t/s/test/done/console").lost == 0
    assert store.keys() == []


@pytest.mark.timeout(30)
async def test_declared_file_ships_under_its_path_in_the_container(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    path = tmp_path / "app.log"
    path.write_text("started\nready\n")
    src = Source("team", "svc", Environment.TEST, "i1", channel="/app/logs/app.log")
    stream = MemoryLogStream()
    shipper = running(stream)
    shipper.follow(Followed(src, path, fmt=Format.PLAIN), live=True)
    await until(lambda: len(numbers(stream, src)) == 2)
    lines = [ln for b in stream.batches for ln in b.lines]
    assert [(ln.seq, ln.stream, ln.text) for ln in lines] == [
        (1, "/app/logs/app.log", "started"),
        (2, "/app/logs/app.log", "ready"),
    ]


@pytest.mark.timeout(30)
async def test_shipped_mark_waits_for_every_declared_file_of_the_instance(
    tmp_path: Path, running: Callable[..., Shipper]
) -> None:
    console, app = tmp_path / "c-json.log", tmp_path / "app.log"
    write(console, 1)
    app.write_text("one\n")
    declared = Source("team", "svc", Environment.TEST, "i1", channel="/app/logs/app.log")
    stream = MemoryLogStream()
    shipper = running(stream)
    shipper.follow(Followed(source(), console), live=True)
    shipper.follow(Followed(declared, app, fmt=Format.PLAIN), live=True)
    await until(lambda: len(numbers(stream, declared)) == 1)
    shipper.follow(Followed(source(), console), live=False)  # the console is done ...
    await asyncio.sleep(0.3)  # many polls: time for the console to be read to its end
    assert not shipper.shipped("i1")  # ... but a declared file is still being written
    with app.open("a") as out:
        out.write("two\nlast words")
    shipper.follow(Followed(declared, app, fmt=Format.PLAIN), live=False)
    await until(lambda: shipper.shipped("i1"))
    assert [text for _, text in numbers(stream, declared)] == ["one", "two", "last words"]
