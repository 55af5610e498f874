"""A source's checkpoints written beside its publishing: only places offered (acknowledged
ones) reach the disk, in order, the newest last; settle waits for the newest; a failed write
is raised to the caller."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.checkpointer import Checkpointer

KEY = "t/s/test/i1/console"


class Recording(CheckpointStore):
    """Writes for real, and records each write; a write may be held until released."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.written: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        """Set when a write has begun (before it waits at the gate)."""
        self.fail = False

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        self.started.set()
        self.gate.wait(5)
        if self.fail:
            raise OSError("disk full")
        super().save(key, checkpoint)
        self.written.append(checkpoint.seq)


def at(seq: int) -> Checkpoint:
    return Checkpoint(inode=1, offset=seq * 10, seq=seq)


async def test_offers_made_while_a_write_runs_are_coalesced_to_the_newest(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    writer = Checkpointer(store, KEY, None)
    store.gate.clear()
    writer.offer(at(1))
    assert await asyncio.to_thread(store.started.wait, 5)  # the first write waits at the gate
    for seq in (2, 3, 4):
        writer.offer(at(seq))
    store.gate.set()
    await writer.settle()
    assert store.written == [1, 4]
    assert store.load(KEY) == at(4) and writer.saved == at(4)


async def test_an_offer_of_the_place_on_disk_writes_nothing(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    writer = Checkpointer(store, KEY, at(3))
    writer.offer(at(3))
    await writer.settle()
    assert store.written == []


async def test_a_failed_write_is_raised_and_the_disk_keeps_the_older_place(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    writer = Checkpointer(store, KEY, None)
    writer.offer(at(1))
    await writer.settle()
    store.fail = True
    writer.offer(at(2))
    with pytest.raises(OSError, match="disk full"):
        await writer.settle()
    assert store.load(KEY) == at(1)


async def test_close_lets_the_write_under_way_finish(tmp_path: Path) -> None:
    store = Recording(tmp_path)
    writer = Checkpointer(store, KEY, None)
    store.gate.clear()
    writer.offer(at(5))
    assert await asyncio.to_thread(store.started.wait, 5)
    # The gate opens only once close is waiting: a close that cut the write off would
    # return before the checkpoint reached the disk.
    asyncio.get_running_loop().call_later(0.05, store.gate.set)
    await writer.close()
    assert store.load(KEY) == at(5)
