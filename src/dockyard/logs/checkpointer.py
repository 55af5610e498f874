"""One source's checkpoints written beside its publishing (logs/shipper.py): a batch's checkpoint
is offered once the stream stored it, and written in a thread while the next batch is published,
instead of the publishing waiting for two fsyncs per batch.

A checkpoint is still only ever one the stream acknowledged, and they reach the disk in order:
one write at a time, and a checkpoint offered while one is written replaces any other waiting
(only the newest place matters). After a crash the disk holds an acknowledged place, perhaps one
a batch or two older than the newest: the lines after it are read again under the same numbers,
and the stream's message ids and the consumers' line numbers drop them (logs/record.py).
"""

from __future__ import annotations

import asyncio

from dockyard.logs.checkpoint import Checkpoint, CheckpointStore


class Checkpointer:
    """Writes the checkpoints of source `key`, the newest offered last; one caller."""

    def __init__(self, store: CheckpointStore, key: str, saved: Checkpoint | None) -> None:
        """`saved` is the checkpoint on disk now."""
        self._store = store
        self._key = key
        self.saved = saved
        """The checkpoint on disk (the last one written)."""
        self._wanted = saved
        self._writing: asyncio.Task[None] | None = None

    def offer(self, checkpoint: Checkpoint) -> None:
        """Write `checkpoint` (the stream stored every line up to it) once the write under way,
        if any, is done. Raises what the last write failed with (the caller starts again from
        the disk's checkpoint)."""
        self._wanted = checkpoint
        done = self._writing
        if done is not None and done.done():
            self._writing = None
            done.result()
        if self._writing is None and self._wanted != self.saved:
            self._writing = asyncio.create_task(self._write())

    async def settle(self) -> None:
        """Return once the newest checkpoint offered is on disk; raises what a write failed
        with."""
        # A write goes on until the newest offer is on disk (`_write`); an offer made once it
        # ended starts the next one, which is waited for in turn.
        while self._writing is not None:
            writing = self._writing
            await writing
            if self._writing is writing:
                self._writing = None

    async def close(self) -> None:
        """Let the writes under way finish (up to the newest checkpoint offered), their
        failures ignored: the source stops, and the disk keeps an acknowledged place anyway."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
            self._writing = None

    async def _write(self) -> None:
        while self._wanted != self.saved and self._wanted is not None:
            wanted = self._wanted
            await asyncio.to_thread(self._store.save, self._key, wanted)
            self.saved = wanted
