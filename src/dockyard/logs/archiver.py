"""The archiver: the durable consumer `archiver` of the log stream, writing every line into the
archive (logs/archive.py) and acknowledging a batch only once all its lines are in objects.

Each source's lines collect in a buffer (one consecutive run of line numbers, one UTC hour) that
is written as one object when its hour is over (plus a grace), when it is full, or when it has
been open for the flush interval. A batch stays unacknowledged until every buffer holding one of
its lines is written, so a `kill -9` loses nothing: the stream delivers those batches again.

Duplicates: a line whose number is in an object already, or in a buffer, is not taken again (a
batch delivered again while its lines wait in a buffer is acknowledged with that buffer). What
is in the archive is read from the objects' names, the first time a source is seen, over the
hours its batch's lines fall in and later: an object is either complete under its name or
absent, so the names are the one durable record, and there is no second file (a checkpoint)
that a crash could leave out of step with the objects.

The stream's consumer must let a batch stay unacknowledged for a flush interval: with the
defaults (flush every 60 s, at most 10,000 batches held) JetStream's consumer needs an ack wait
of at least 2 x flush_interval_s (120 s) and max_ack_pending above max_held + max_batches
(e.g. 20,000); `Limits.fitting` gives limits for a consumer that is already set. If the ack
wait is shorter, batches come again while held: they are recognised and acknowledged with
their buffer, so the cost is traffic, never loss or duplicates. If max_ack_pending is lower,
fetches come back empty until the next flush acknowledges: throughput, never loss.
One archiver runs per archive: two would write the same lines under different names.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from dockyard.domain.errors import DockyardError, Invalid, Unavailable
from dockyard.logs.archive import HOUR, Archive, HourFile, channel_token, encode_record, hour_of
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.retention import Caps, Days, archive_before, decide
from dockyard.logs.stats import Tally
from dockyard.logs.stream import Delivery, LogStream

log = logging.getLogger(__name__)

_Key = tuple[str, str, str, str, str]
"""A source as the archive names it: team, service, env, instance, channel token."""


def _key(team: str, service: str, env: str, instance: str, channel: str) -> _Key:
    return (team, service, env, instance, channel)


CONSUMER = "archiver"
_FOREVER = Days(100_000)
"""Days no partition reaches: the cap alone decides (expiry by days is done before it)."""


@dataclass(frozen=True)
class Limits:
    """When buffers are written, and how much the archiver holds meanwhile."""

    flush_interval_s: float = 60.0
    """A buffer is written at the latest this long after its first line came."""
    grace_s: float = 30.0
    """A buffer is written this long after its hour ended (late lines of the hour still join)."""
    max_bytes: int = 64 << 20
    """Uncompressed NDJSON bytes per object (about 8 MiB compressed)."""
    max_lines: int = 500_000
    memory_bytes: int = 64 << 20
    """Buffered bytes kept in memory over all buffers; beyond, the largest spill to disk."""
    max_held: int = 10_000
    """Unacknowledged batches held; at this many every buffer is written and no more fetched."""
    max_batches: int = 256
    """Batches asked for per fetch."""
    parallel_writes: int = 8
    """Objects written at the same time (an object store's PUTs take tens of milliseconds)."""
    retry_s: float = 5.0
    """Wait after the archive or the stream failed."""
    idle_s: float = 3600.0
    """A source with nothing buffered for this long is forgotten (read again from names)."""
    expire_every_s: float = 3600.0
    """How often hours older than the retention are deleted (when a retention is given)."""

    @classmethod
    def fitting(cls, *, ack_wait_s: float, max_ack_pending: int) -> Limits:
        """Limits that hold no batch past the consumer's ack wait and never more batches than
        it lets be pending (flush at half the ack wait; the default flush interval if that is
        shorter)."""
        defaults = cls()
        max_batches = max(1, min(defaults.max_batches, max_ack_pending // 4))
        return cls(
            flush_interval_s=min(defaults.flush_interval_s, ack_wait_s / 2),
            max_batches=max_batches,
            max_held=max(1, max_ack_pending - max_batches),
        )


def due(*, sealed: bool, opened_at: float, hour: datetime, now: float, limits: Limits) -> bool:
    """Whether a buffer should be written now (pure: table-tested).

    Sealed buffers are due at once. An open one is due when its hour ended a grace ago, or
    its first line came a flush interval ago. A buffer opened after its hour ended (the
    archiver catching up on a backlog) still gets the grace, so catching up writes large
    objects rather than one per fetch.
    """
    hour_over = now >= max((hour + HOUR).timestamp(), opened_at) + limits.grace_s
    return sealed or hour_over or now - opened_at >= limits.flush_interval_s


class Ranges:
    """Disjoint, sorted line-number ranges [first, last] (merged when they touch)."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, int]] = []

    def add(self, first: int, last: int) -> None:
        merged: list[tuple[int, int]] = []
        for low, high in self._ranges:
            if high + 1 < first or last + 1 < low:
                merged.append((low, high))
            else:
                first, last = min(first, low), max(last, high)
        merged.append((first, last))
        self._ranges = sorted(merged)

    def __contains__(self, seq: int) -> bool:
        return any(low <= seq <= high for low, high in self._ranges)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._ranges)


class _Spool:
    """A buffer's NDJSON bytes: in memory until spilled to an unnamed temporary file."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._memory = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0

    @property
    def in_memory(self) -> int:
        return len(self._memory)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None:
            self._memory += data
        else:
            self._file.write(data)

    def spill(self) -> None:
        self._file = tempfile.TemporaryFile(dir=self._directory)  # noqa: SIM115 (closed in close())
        self._file.write(self._memory)
        self._memory = bytearray()

    def reader(self) -> IO[bytes]:
        if self._file is None:
            return io.BytesIO(self._memory)
        self._file.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._memory = bytearray()


@dataclass(eq=False)
class _Held:
    """A delivery waiting for `remaining` buffers to be written before its ack."""

    delivery: Delivery
    remaining: int = 0


@dataclass(eq=False)
class _Buffer:
    source: Source
    hour: datetime
    first_seq: int
    last_seq: int
    opened_at: float
    spool: _Spool
    lines: int = 0
    newest_ns: int = 0
    sealed: bool = False
    waiters: list[_Held] = field(default_factory=list)

    def wait(self, held: _Held) -> None:
        if not self.waiters or self.waiters[-1] is not held:
            self.waiters.append(held)
            held.remaining += 1

    @property
    def file(self) -> HourFile:
        return HourFile.of(
            self.source, hour=self.hour, first_seq=self.first_seq, last_seq=self.last_seq
        )


@dataclass(eq=False)
class _SourceState:
    written: Ranges
    scanned_from: datetime
    buffers: list[_Buffer] = field(default_factory=list)
    used_at: float = 0.0

    def holding(self, seq: int) -> _Buffer | None:
        for buffer in self.buffers:
            if buffer.first_seq <= seq <= buffer.last_seq:
                return buffer
        return None

    @property
    def open(self) -> _Buffer | None:
        last = self.buffers[-1] if self.buffers else None
        return last if last is not None and not last.sealed else None


class Archiver:
    """Moves lines from the stream's durable consumer `consumer` into `archive`.

    `clock` gives wall-clock seconds (hours and flush intervals are measured with it);
    `spool_dir` holds buffers spilled from memory (default: the system's temporary directory);
    with `keep_days` (settings.logs.archive_retention: days per environment, or one number
    for all), hours older than their environment's days are deleted at the first step and
    every `limits.expire_every_s`, and then, with `cap_bytes`, the oldest days (of any
    service, never today's) until the archive takes at most that many bytes; between writes
    (an object store's deletes take a while, and buffers wait meanwhile, never the stream:
    what is fetched stays unacknowledged).
    Not for concurrent use: one task drives it (run, or step/flush).
    """

    def __init__(
        self,
        stream: LogStream,
        archive: Archive,
        *,
        consumer: str = CONSUMER,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        spool_dir: Path | None = None,
        keep_days: int | Days | None = None,
        cap_bytes: int | None = None,
    ) -> None:
        self._stream = stream
        self._archive = archive
        self._consumer = consumer
        self.limits = limits or Limits()
        self._clock = clock
        self._spool_dir = spool_dir
        self._keep = Days(keep_days) if isinstance(keep_days, int) else keep_days
        self._cap = cap_bytes
        self._expire_at = 0.0
        self._sources: dict[_Key, _SourceState] = {}
        self._held = 0
        self._in_memory = 0
        self._retry_at = 0.0
        self.lines_archived = 0
        """Lines written into objects by this archiver."""
        self.lines_repeated = 0
        """Lines delivered again that were archived or buffered already (not written twice)."""
        self.objects_written = 0
        self.sources: dict[str, Tally] = {}
        """Lines written into objects per source key, and the newest one's time."""

    @property
    def held(self) -> int:
        """Batches taken but not yet acknowledged."""
        return self._held

    async def run(self, stop: asyncio.Event) -> None:
        """Archive until `stop` is set, then write what is buffered (acknowledging it) and
        return. Failures of the stream or the archive are logged and retried, never fatal."""
        with contextlib.suppress(Unavailable):
            removed = await asyncio.to_thread(self._archive.clean)
            if removed:
                log.info("removed %d temporary archive objects left by a crash", removed)
        while not stop.is_set():
            await self.step()
        await self.flush()
        log.info(
            "archiver stopped: lines archived=%d repeated=%d objects=%d held=%d",
            self.lines_archived, self.lines_repeated, self.objects_written, self._held,
        )  # fmt: skip

    async def step(self, *, timeout_s: float = 1.0) -> None:
        """One round: fetch (unless holding too much), take, write what is due."""
        if self._held < self.limits.max_held:
            try:
                deliveries = await self._stream.fetch(
                    self._consumer, max_batches=self.limits.max_batches, timeout_s=timeout_s
                )
            except Unavailable as exc:
                log.warning("log stream unavailable: %s", exc.message)
                deliveries = []
                await asyncio.sleep(self.limits.retry_s)
            for delivery in deliveries:
                await self.take(delivery)
        elif self._clock() < self._retry_at:
            await asyncio.sleep(min(timeout_s, self._retry_at - self._clock()))
        await self.write_due(everything=self._held >= self.limits.max_held)
        self._forget_idle()
        await self.expire_due()

    async def flush(self) -> None:
        """Write every buffer now and acknowledge what that completes."""
        self._retry_at = 0.0
        await self.write_due(everything=True)

    # -- taking lines ----------------------------------------------------------------------

    async def take(self, delivery: Delivery) -> None:
        """Buffer the lines of `delivery` not archived or buffered yet; acknowledge it at
        once if it brings nothing new."""
        try:
            batch = delivery.batch
        except Invalid as exc:
            log.warning("dropping an undecodable log batch: %s", exc.message)
            await delivery.term()
            return
        try:
            state = await self._state(batch)
        except Unavailable as exc:
            log.warning("log archive unavailable, batch %s later: %s", batch.msg_id, exc.message)
            await _quietly(delivery.nak(delay_s=self.limits.retry_s))
            return
        held = _Held(delivery)
        for line in batch.lines:
            if line.seq in state.written:
                self.lines_repeated += 1
                continue
            buffer = state.holding(line.seq)
            if buffer is None:
                buffer = self._append(state, batch.source, line)
            else:
                self.lines_repeated += 1
            buffer.wait(held)
        if held.remaining:
            self._held += 1
        else:
            await _quietly(delivery.ack())
        self._limit_memory()

    async def _state(self, batch: Batch) -> _SourceState:
        """The source's state. What is archived is read from object names over the hours its
        lines fall in and later, the first time (one listing for the whole service, which
        tells every source of it not seen yet: only this archiver writes, and it wrote nothing
        for them) and whenever lines older than those hours come."""
        source = batch.source
        since = min(hour_of(line.time_ns) for line in batch.lines)
        key = _key(source.team, source.service, str(source.env), source.instance,
                   channel_token(source.channel))  # fmt: skip
        state = self._sources.get(key)
        if state is None:
            found = await asyncio.to_thread(
                self._archive.files, source.team, source.service, str(source.env), since=since
            )
            fresh = {key: _SourceState(Ranges(), since, used_at=self._clock())}
            for file in found:
                file_key = _key(file.team, file.service, file.env, file.instance, file.channel)
                if file_key not in self._sources:
                    fresh.setdefault(file_key, _SourceState(Ranges(), since, used_at=self._clock()))
                    fresh[file_key].written.add(file.first_seq, file.last_seq)
            self._sources.update(fresh)
            state = fresh[key]
        elif since < state.scanned_from:
            found = await asyncio.to_thread(
                self._archive.files, source.team, source.service, str(source.env),
                since=since, until=state.scanned_from, instance=source.instance,
            )  # fmt: skip
            for file in found:
                if file.holds(source):
                    state.written.add(file.first_seq, file.last_seq)
            state.scanned_from = since
        state.used_at = self._clock()
        return state

    def _append(self, state: _SourceState, source: Source, line: Line) -> _Buffer:
        """Add `line` to the source's open buffer, or to a new one when the line does not
        continue it (a gap, a late line), the hour changed, or it is full.

        A line is filed under its own hour, or its predecessor's when its clock went back
        (so a run never spans two hours and seldom splits at a boundary)."""
        hour, current = hour_of(line.time_ns), state.open
        if current is not None and line.seq == current.last_seq + 1:
            hour = max(hour, current.hour)
            if hour != current.hour:
                current.sealed = True
                current = None
        elif current is not None:
            current.sealed = True
            current = None
        if current is None:
            current = _Buffer(source, hour, line.seq, line.seq - 1, self._clock(), self._spool())
            state.buffers.append(current)
        data = encode_record(source, line)
        current.spool.write(data)
        self._in_memory += len(data) if current.spool.in_memory else 0
        current.last_seq, current.lines = line.seq, current.lines + 1
        current.newest_ns = max(current.newest_ns, line.time_ns)
        if current.spool.size >= self.limits.max_bytes or current.lines >= self.limits.max_lines:
            current.sealed = True
        return current

    def _spool(self) -> _Spool:
        return _Spool(self._spool_dir)

    def _limit_memory(self) -> None:
        """Spill the largest in-memory buffers to disk until memory is within its budget."""
        if self._in_memory <= self.limits.memory_bytes:
            return
        buffers = [b for s in self._sources.values() for b in s.buffers if b.spool.in_memory]
        for buffer in sorted(buffers, key=lambda b: b.spool.in_memory, reverse=True):
            self._in_memory -= buffer.spool.in_memory
            buffer.spool.spill()
            if self._in_memory <= self.limits.memory_bytes:
                return

    # -- writing ---------------------------------------------------------------------------

    async def write_due(self, *, everything: bool = False) -> None:
        """Write the buffers that are due (all of them if `everything`), up to
        limits.parallel_writes at once, acknowledging the batches that completes. After a
        failed write the rest wait, and nothing is tried again for retry_s."""
        now = self._clock()
        if now < self._retry_at:
            return
        gate = asyncio.Semaphore(self.limits.parallel_writes)

        async def write(state: _SourceState, buffer: _Buffer) -> None:
            async with gate:
                if self._retry_at > now:
                    return
                if not await self._write(state, buffer):
                    self._retry_at = self._clock() + self.limits.retry_s

        await asyncio.gather(
            *(
                write(state, buffer)
                for state in list(self._sources.values())
                for buffer in list(state.buffers)
                if everything or self._due(buffer, now)
            )
        )

    def _due(self, buffer: _Buffer, now: float) -> bool:
        return due(
            sealed=buffer.sealed, opened_at=buffer.opened_at, hour=buffer.hour,
            now=now, limits=self.limits,
        )  # fmt: skip

    async def _write(self, state: _SourceState, buffer: _Buffer) -> bool:
        file = buffer.file
        try:
            await asyncio.to_thread(self._archive.write, file, buffer.spool.reader())
        except DockyardError as exc:
            log.warning("log archive write failed, retrying: %s", exc.message)
            return False
        state.written.add(buffer.first_seq, buffer.last_seq)
        state.buffers.remove(buffer)
        self._in_memory -= buffer.spool.in_memory
        buffer.spool.close()
        self.lines_archived += buffer.lines
        self.sources.setdefault(buffer.source.key, Tally()).add(buffer.lines, buffer.newest_ns)
        self.objects_written += 1
        done = []
        for held in buffer.waiters:
            held.remaining -= 1
            if held.remaining == 0:
                self._held -= 1
                done.append(_quietly(held.delivery.ack()))
        await asyncio.gather(*done)  # one round trip for all, not one each
        return True

    async def expire_due(self) -> None:
        """Delete the hours past the retention, if one is set and it is time to look."""
        now = self._clock()
        if (self._keep is None and self._cap is None) or now < self._expire_at:
            return
        self._expire_at = now + self.limits.expire_every_s
        try:
            removed = await asyncio.to_thread(self._retention, now)
        except Unavailable as exc:
            log.warning(
                "log archive retention failed, next in %g s: %s",
                self.limits.expire_every_s, exc.message,
            )  # fmt: skip
            return
        for partition, reason in removed:
            log.info("log archive partition dropped partition=%s reason=%s", partition, reason)

    def _retention(self, now: float) -> list[tuple[str, str]]:
        """Expire by days, then hold the cap; the partitions removed and why."""
        removed: list[tuple[str, str]] = []
        if self._keep is not None:
            before = functools.partial(archive_before, now, self._keep)
            removed += [(p, "expired") for p in self._archive.expire(before=before)]
        if self._cap is not None:
            parts = self._archive.day_parts()
            caps = Caps(host=self._cap)
            for drop in decide(parts, now_ns=int(now * 1e9), days=_FOREVER, caps=caps):
                self._archive.remove(drop.part.name)
                removed.append((drop.part.name, str(drop.reason)))
        return removed

    def _forget_idle(self) -> None:
        horizon = self._clock() - self.limits.idle_s
        for key, state in list(self._sources.items()):
            if not state.buffers and state.used_at < horizon:
                del self._sources[key]


async def _quietly(call: Awaitable[None]) -> None:
    """Await an ack/nak; if the stream is down the batch simply comes again (and is then
    recognised as archived), so the failure is only logged."""
    try:
        await call
    except Unavailable as exc:
        log.warning("log stream unavailable for an ack: %s", exc.message)
