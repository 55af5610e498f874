"""The shipper: every followed source read (logs/reader.py), published to the LogStream in
batches, and checkpointed once the stream stored them; the agent's log part drives it
(agent/logs.py says which sources exist and when their writers stop or go).

Docker's whole lines travel as they are (logs/raw.py), decoded by the consumers, unless a
multi-line rule or the flood budget needs them one by one.

No loss, bounded memory: a source holds at most two batches in memory (one being stored, the
next one read meanwhile). When the stream cannot take a batch (Unavailable), the source stops
reading and offers the same batch again with backoff: the files are the buffer. A checkpoint
is written only after publish returned, so a restarted agent re-reads from the last stored
line, under the same numbers. One source's failure is logged and retried on its own; it never
stops the others, nor the shipper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.domain.errors import Unavailable
from dockyard.logs.budget import UNLIMITED, Rate
from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.checkpointer import Checkpointer
from dockyard.logs.counters import LossEvent, ShipperCounters, SourceCounters
from dockyard.logs.multiline import MultilineRule
from dockyard.logs.raw import RawBatch
from dockyard.logs.reader import Format, Read, Reader, ReadLimits
from dockyard.logs.record import Batch, Source
from dockyard.logs.stream import LogStream
from dockyard.logs.throttle import Budgets, Throttle, service_of
from dockyard.logs.wire import Message

log = logging.getLogger("dockyard.logs.shipper")


@dataclass(frozen=True)
class Followed:
    """One source to ship: its file on this host and how to read it. A declared file's lines
    carry its source's channel (its path inside the container) as their stream."""

    source: Source
    path: Path
    fmt: Format = Format.JSON_FILE
    multiline: MultilineRule | None = None
    rotate_bytes: int = 0
    """The size at which the file's writer rotates it (Docker's max-size), if known."""
    rate: Rate = UNLIMITED
    """The flood budget of the source's service on this host (logs/throttle.py)."""


@dataclass(frozen=True)
class Pacing:
    """How often an idle source looks for new lines, and the backoff when the stream or a file
    fails."""

    poll_s: float = 0.2
    retry_min_s: float = 0.1
    retry_max_s: float = 5.0
    stopped_poll_s: float = 1.0
    """How often a source whose writer stopped is looked at again."""


PACING = Pacing()
STOPPED_LOOKS = 3
BATCH = ReadLimits(max_lines=2000, max_bytes=512 * 1024, max_s=0.2, chunk_bytes=128 * 1024)


@dataclass
class _State:
    followed: Followed
    live: bool
    """The writer may still write (the container runs); False: read to the end, then done."""
    removed: bool = False
    """The container is gone: once read to the end, the source is dropped."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    marked: Checkpoint | None = None
    """Where the source was when marked shipped; None while not marked."""
    throttle: Throttle | None = None


def keys(source: Source) -> str:
    """The structured keys of a source's log lines."""
    return (
        f"team={source.team} service={source.service} env={source.env} instance={source.instance}"
    )


class Shipper:
    """Ships the sources it is told to follow; `run` keeps it going until cancelled."""

    def __init__(
        self,
        stream: LogStream,
        checkpoints: CheckpointStore,
        *,
        max_line_bytes: int,
        limits: ReadLimits = BATCH,
        pacing: Pacing = PACING,
        now_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`limits` bound one batch (by default its raw bytes stay well under JetStream's 1 MiB
        message)."""
        self._stream = stream
        self._checkpoints = checkpoints
        self._max_line_bytes = max_line_bytes
        self._limits = limits
        self._pacing = pacing
        self._now_ns = now_ns
        self._monotonic = monotonic
        self._states: dict[str, _State] = {}
        self._budgets = Budgets()
        self.counters = ShipperCounters()

    # ---- what the agent tells it ----

    def follow(self, followed: Followed, *, live: bool) -> None:
        """Ship `followed` from its checkpoint on (a second call only updates whether its writer
        is `live`). A source whose writer is not live is read to its end, its last unfinished
        line included, then marked shipped until its writer starts again."""
        key = followed.source.key
        if live:  # any source of a started instance: it is no longer shipped to the end
            self._checkpoints.unmark_shipped(followed.source.instance)
        state = self._states.get(key)
        if state is None or state.task is None or state.task.done():
            throttle = Throttle(self._budgets, service_of(followed.source), followed.rate)
            state = self._states[key] = _State(followed, live, throttle=throttle)
            state.task = asyncio.create_task(self._supervise(state), name=f"ship {key}")
            return
        if live:
            # In memory too: a source whose loop has not run since its writer started again
            # must not count as shipped when a sibling source of the instance finishes.
            state.marked = None
        if (state.live, state.removed) != (live, False):
            state.live, state.removed = live, False
            state.wake.set()

    def forget(self, key: str) -> None:
        """The source's writer is gone for good (its container was removed): read what is left
        (an open file outlives its removal), then stop following it and drop its checkpoint."""
        state = self._states.get(key)
        if state is not None:
            state.live, state.removed = False, True
            state.wake.set()

    def gone_unread(self, key: str, instance: str) -> None:
        """A source has a checkpoint but its file is gone and nobody follows it (its container
        was removed while no agent ran): unless it was shipped to its end before, what came
        after the checkpoint is lost (counted, size unknown). The checkpoint is dropped."""
        if key in self._states:
            return
        at = self._checkpoints.load(key)
        if at is not None and not self._checkpoints.shipped(instance):
            event = LossEvent(self._now_ns(), f"removed unfollowed after line {at.seq}", None)
            self.counters.of(key).add_loss(event)
            log.warning("logs: lines lost key=%s what=%r bytes=unknown", key, event.what)
        self._checkpoints.delete(key)

    def checkpointed(self) -> list[str]:
        """Keys of every source with a checkpoint on disk."""
        return self._checkpoints.keys()

    def marked(self) -> list[str]:
        """Instances marked shipped on disk."""
        return self._checkpoints.marked()

    def unmark(self, instance: str) -> None:
        """Drop `instance`'s shipped mark (its container is long gone: agent/log_sweep.py)."""
        self._checkpoints.unmark_shipped(instance)

    def beat(self) -> None:
        """Say on disk that the shipper runs: the controller waits for shipped marks only while
        an agent does (checkpoint.CheckpointStore.beat)."""
        self._checkpoints.beat()

    def following(self) -> list[str]:
        """Keys of the sources followed now."""
        return [k for k, s in self._states.items() if s.task is not None and not s.task.done()]

    def shipped(self, instance: str) -> bool:
        """True once every source of `instance` (its console log and its declared files) was
        shipped to the end of its file after its container stopped: every line published and
        checkpointed (the marker on disk, which outlives the agent:
        checkpoint.CheckpointStore.mark_shipped)."""
        return self._checkpoints.shipped(instance)

    async def run(self) -> None:
        """Wait while the sources ship; on cancellation stop every source (each keeps its
        checkpoint, so nothing stored is read twice by the next agent, nothing unstored lost)."""
        try:
            await asyncio.Event().wait()
        finally:
            tasks = [s.task for s in self._states.values() if s.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- one source ----

    async def _supervise(self, state: _State) -> None:
        source = state.followed.source
        counters = self.counters.of(source.key)
        delay = self._pacing.retry_min_s
        while True:
            try:
                if await self._ship(state, counters):
                    self._states.pop(source.key, None)
                    return
                delay = self._pacing.retry_min_s
                await state.wake.wait()  # parked, no file open: until started again or removed
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one source's failure must never stop the others
                counters.errors += 1
                log.error("logs: reading failed, retrying %s error=%s", keys(source), exc,
                          exc_info=not isinstance(exc, (OSError, Unavailable)))  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._pacing.retry_max_s)

    async def _ship(self, state: _State, counters: SourceCounters) -> bool:
        """Ship from the checkpoint until the source is read to its end after its writer
        stopped: True if it was removed too (done for good), False if it may start again (the
        caller parks it with no file open).

        Reading the next batch overlaps storing the last one (publish, then checkpoint): the
        read is what costs, and a batch waiting for the stream's answer need not stop it. A
        batch is published only after the one before it was stored, so the stream gets each
        source in order; its checkpoint is written while the next one is published
        (logs/checkpointer.py), never ahead of the stream, and is on disk before the source
        idles, is marked shipped or parks."""
        followed = state.followed
        looks = 0
        key, key_instance = followed.source.key, followed.source.instance
        saved = await asyncio.to_thread(self._checkpoints.load, key)
        reader = await asyncio.to_thread(self._open, followed, saved)
        checkpointer = Checkpointer(self._checkpoints, key, saved)
        throttle = state.throttle or Throttle(self._budgets, service_of(followed.source))
        throttle.reopened()
        storing: asyncio.Task[None] | None = None
        try:
            while True:
                state.wake.clear()
                final = not state.live
                if not final and state.marked is not None:
                    # Started again: a marker written while `follow` removed it goes now.
                    await asyncio.to_thread(self._checkpoints.unmark_shipped, key_instance)
                    state.marked = None
                read = await asyncio.to_thread(reader.read, self._limits, final=final)
                self._count(followed.source, read, counters)
                read, dropped = throttle.apply(read, now_ns=self._now_ns())
                counters.dropped_rate += dropped
                if storing is not None:
                    await storing
                storing = asyncio.create_task(
                    self._store(followed.source, read, checkpointer, counters)
                )
                if not read.at_end:
                    continue
                await storing
                storing = None
                await checkpointer.settle()  # idle, marked or parked: the place on disk
                if state.wake.is_set():
                    # Told something new while this read was stored (the writer started or
                    # stopped again): a mark now would rest on a read made before it.
                    continue
                if final:
                    if await self._done(state, read.resume):
                        return True
                    # A few more looks catch lines the engine wrote after it said the
                    # container died; then the source is parked.
                    looks += 1
                    if looks > STOPPED_LOOKS:
                        return False
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(state.wake.wait(), self._pacing.stopped_poll_s)
                    continue
                looks = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.wake.wait(), self._pacing.poll_s)
        finally:
            if storing is not None:  # a failed read: the batch in flight finishes or is cut off
                storing.cancel()
                await asyncio.gather(storing, return_exceptions=True)
            await checkpointer.close()
            reader.close()

    async def _store(
        self, source: Source, read: Read, checkpointer: Checkpointer, counters: SourceCounters
    ) -> None:
        """Publish `read`'s lines, then offer the checkpoint where it ended (written beside
        the next batch's publishing: logs/checkpointer.py)."""
        if read.raw is not None:
            await self._publish(RawBatch(source, read.raw), counters)
        elif read.lines:
            await self._publish(Batch(source, tuple(read.lines)), counters)
        checkpointer.offer(read.resume)

    def _open(self, followed: Followed, at: Checkpoint | None) -> Reader:
        return Reader(
            followed.path,
            fmt=followed.fmt,
            stream=followed.source.channel if followed.fmt is Format.PLAIN else "",
            max_line_bytes=self._max_line_bytes,
            at=at,
            multiline=followed.multiline,
            rotate_bytes=followed.rotate_bytes,
            now_ns=self._now_ns,
            monotonic=self._monotonic,
        )

    async def _done(self, state: _State, at: Checkpoint) -> bool:
        """Read to the end after its writer stopped: say so on disk for the controller. True
        if the source was removed too (its checkpoint is dropped: nothing more will come)."""
        removed = state.removed  # as it is now: the agent may change it while files are written
        if state.marked == at and not removed:
            return False
        state.marked = at
        source = state.followed.source
        detail = {"source": source.key, "seq": at.seq, "inode": at.inode, "offset": at.offset,
                  "time_ns": self._now_ns(), "removed": removed}  # fmt: skip
        if self._all_marked(source.instance):  # one mark for all of the instance's sources
            await asyncio.to_thread(self._checkpoints.mark_shipped, source.instance, detail)
            if not self._all_marked(source.instance):
                # Started again while the mark was written (`follow` unmarked it first).
                await asyncio.to_thread(self._checkpoints.unmark_shipped, source.instance)
        if removed:
            await asyncio.to_thread(self._checkpoints.delete, source.key)
        log.info("logs: shipped to the end %s lines=%d", keys(source), at.seq)
        return removed

    def _all_marked(self, instance: str) -> bool:
        """True if every source of `instance` followed now was read to its end after its
        writer stopped. The agent follows all sources of a container in one step of the loop,
        so none can be missing here while the others finish."""
        return all(
            state.marked is not None
            for state in self._states.values()
            if state.followed.source.instance == instance
        )

    async def _publish(self, batch: Message, counters: SourceCounters) -> None:
        """Publish until the stream stores the batch: while it is Unavailable, nothing more is
        read for this source, and the wait is counted."""
        delay = self._pacing.retry_min_s
        waiting_since: float | None = None
        try:
            while True:
                try:
                    await self._stream.publish(batch)
                    break
                except Unavailable as exc:
                    if waiting_since is None:
                        waiting_since = self._monotonic()
                        self.counters.stream_waiting += 1
                        log.warning("logs: stream unavailable, holding %s error=%s",
                                    keys(batch.source), exc)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._pacing.retry_max_s)
        finally:
            if waiting_since is not None:
                counters.unavailable_s += self._monotonic() - waiting_since
                self.counters.stream_waiting -= 1
        if waiting_since is not None:
            log.info("logs: stream available again %s", keys(batch.source))
        counters.lines_sent += batch.count

    def _count(self, source: Source, read: Read, counters: SourceCounters) -> None:
        counters.lines_read += read.count
        counters.bytes_read += read.bytes_read
        counters.malformed += read.malformed
        for lost in read.lost:
            event = LossEvent(self._now_ns(), lost.what, lost.bytes)
            counters.add_loss(event)
            log.warning("logs: lines lost %s what=%r bytes=%s", keys(source), lost.what,
                        lost.bytes if lost.bytes is not None else "unknown")  # fmt: skip
