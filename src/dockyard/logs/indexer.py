"""The indexer: the durable stream consumer "indexer" that writes every line into the search
index (logs/index/), so a line is searchable within about a second of reaching the stream.

Order of work, which is what makes it lose nothing and add nothing twice: fetch, stage in the
index, commit, and only then acknowledge. A process killed before a commit leaves its batches
unacknowledged; the stream delivers them again and the index skips the lines it already holds
(per-source high-water marks, committed with the lines). Batches that cannot be decoded are
terminated and counted; they would never decode on a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.domain.errors import Invalid, Unavailable
from dockyard.logs.admission import Waiting, admit
from dockyard.logs.index.base import Added, LevelPatterns, LogIndex
from dockyard.logs.record import Batch
from dockyard.logs.stats import Tally, fresh_lines
from dockyard.logs.stream import Delivery, LogStream

log = logging.getLogger(__name__)

CONSUMER = "indexer"


@dataclass
class IndexerCounters:
    """What the indexer has done since it started (exposed as metrics by its caller)."""

    batches: int = 0
    lines: int = 0
    duplicates: int = 0
    undecodable: int = 0
    commits: int = 0
    failures: int = 0
    newest_ns: int = 0
    """Time of the newest line committed; 0 before the first."""
    held_back: int = 0
    """Batches put back because an earlier batch of their source was still out."""
    gaps: int = 0
    lines_missing: int = 0
    """Gaps accepted (and the lines in them) after waiting `gap_wait_s` for them to fill."""
    sources: dict[str, Tally] = field(default_factory=dict)
    """Lines committed per source key, and the newest one's time (logs/stats.py reports them
    per instance)."""

    def lag_s(self, now_ns: int) -> float:
        """Seconds between now and the newest line indexed (0 before any line)."""
        return max(0.0, (now_ns - self.newest_ns) / 1e9) if self.newest_ns else 0.0


@dataclass(frozen=True)
class IndexerSettings:
    commit_every_s: float = 0.5
    """Longest a fetched line waits before its commit: bounds write-to-searchable latency."""
    max_pending_lines: int = 50_000
    """Commit early when this many lines wait (bounds memory under a burst)."""
    max_batches: int = 256
    """Batches asked of the stream per fetch."""
    retry_s: float = 1.0
    """Wait after the stream or the index failed, before trying again."""
    hold_s: float = 1.0
    """How soon a batch put back (a gap before it) is offered again."""
    gap_wait_s: float = 90.0
    """How long a gap may stay open before its lines are taken as lost: past the stream's
    ack wait (30 s), after which anything fetched but not acknowledged comes again."""


class Indexer:
    """Moves batches from `stream` into `index` until cancelled (`run`)."""

    def __init__(
        self,
        stream: LogStream,
        index: LogIndex,
        *,
        settings: IndexerSettings | None = None,
        patterns: Callable[[], LevelPatterns] | None = None,
        consumer: str = CONSUMER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.index = index
        self.settings = settings or IndexerSettings()
        self.counters = IndexerCounters()
        self._patterns = patterns
        self._consumer = consumer
        self._clock = clock
        self._pending: list[Delivery] = []
        self._pending_lines = 0
        self._staged_newest = 0
        self._staged: dict[str, Tally] = {}
        self._oldest_pending: float | None = None
        self._waiting = Waiting()

    async def run(self) -> None:
        """Index until cancelled. A failing stream or index is logged and retried; what was
        staged but not committed when cancelled is dropped (the stream delivers it again)."""
        try:
            while True:
                try:
                    await self.step()
                except Unavailable as exc:
                    self.counters.failures += 1
                    log.warning("indexer cannot go on now: %s", exc.message)
                    await self._abandon()
                    await asyncio.sleep(self.settings.retry_s)
        finally:
            self.index.rollback()

    async def step(self) -> None:
        """One fetch (waiting at most until the next commit is due), then a commit if due."""
        deliveries = await self.stream.fetch(
            self._consumer, max_batches=self.settings.max_batches, timeout_s=self._wait_s()
        )
        offered: list[Delivery] = []
        decoded: list[Batch] = []
        for delivery in deliveries:
            batch = await self._decoded(delivery)
            if batch is not None:
                offered.append(delivery)
                decoded.append(batch)
        taken, batches = await self._admit(offered, decoded)
        if batches:
            await self._stage(batches)
            self._pending.extend(taken)
        if self._due():
            await self.flush()

    async def flush(self) -> None:
        """Commit what is staged, then acknowledge its batches."""
        if not self._pending:
            return
        await asyncio.to_thread(self.index.commit)
        self.counters.commits += 1
        self.counters.newest_ns = max(self.counters.newest_ns, self._staged_newest)
        for key, tally in self._staged.items():
            self.counters.sources.setdefault(key, Tally()).add(tally.lines, tally.newest_ns)
        self._staged = {}
        pending, self._pending = self._pending, []
        self._pending_lines, self._oldest_pending = 0, None
        for delivery in pending:
            await delivery.ack()

    async def _decoded(self, delivery: Delivery) -> Batch | None:
        try:
            return delivery.batch
        except Invalid as exc:
            self.counters.undecodable += 1
            log.warning("indexer terminated an undecodable batch: %s", exc.message)
            await delivery.term()
            return None

    async def _admit(
        self, deliveries: list[Delivery], batches: list[Batch]
    ) -> tuple[list[Delivery], list[Batch]]:
        """The deliveries to stage now, in order per source (logs/admission.py); the others
        go back to the stream to come again shortly."""
        if not batches:
            return [], []
        decided = await asyncio.to_thread(
            admit,
            batches,
            held=self.index.held,
            waiting=self._waiting,
            now=self._clock(),
            gap_wait_s=self.settings.gap_wait_s,
        )
        for i in decided.hold:
            self.counters.held_back += 1
            await deliveries[i].nak(delay_s=self.settings.hold_s)
        for key, first, last in decided.gaps:
            self.counters.gaps += 1
            self.counters.lines_missing += last - first + 1
            log.warning(
                "lines never reached the index source=%s first=%d last=%d (not in the stream "
                "after waiting %g s)", key, first, last, self.settings.gap_wait_s,
            )  # fmt: skip
        return [deliveries[i] for i in decided.take], [batches[i] for i in decided.take]

    async def _stage(self, batches: list[Batch]) -> None:
        patterns = self._patterns() if self._patterns else None
        fresh, added = await asyncio.to_thread(self._add, batches, patterns)
        for key, tally in fresh.items():
            self._staged.setdefault(key, Tally()).add(tally.lines, tally.newest_ns)
        self.counters.batches += len(batches)
        self.counters.lines += added.lines
        self.counters.duplicates += added.duplicates
        self._staged_newest = max(self._staged_newest, added.newest_ns)
        self._pending_lines += added.lines + added.duplicates
        if self._oldest_pending is None:
            self._oldest_pending = self._clock()

    def _add(
        self, batches: list[Batch], patterns: LevelPatterns | None
    ) -> tuple[dict[str, Tally], Added]:
        """Stage `batches`; also which of their lines are new per source (asked of the index
        before it holds them)."""
        fresh = fresh_lines(batches, held=self.index.held)
        return fresh, self.index.add(batches, patterns=patterns)

    def _due(self) -> bool:
        if self._oldest_pending is None:
            return False
        waited = self._clock() - self._oldest_pending
        return (
            waited >= self.settings.commit_every_s
            or self._pending_lines >= self.settings.max_pending_lines
        )

    def _wait_s(self) -> float:
        if self._oldest_pending is None:
            return self.settings.commit_every_s
        waited = self._clock() - self._oldest_pending
        return max(0.01, self.settings.commit_every_s - waited)

    async def _abandon(self) -> None:
        """After a failure: drop what is staged and let the stream deliver it again."""
        await asyncio.to_thread(self.index.rollback)
        self._staged = {}
        pending, self._pending = self._pending, []
        self._pending_lines, self._oldest_pending = 0, None
        for delivery in pending:
            with contextlib.suppress(Unavailable):  # it redelivers after its ack wait anyway
                await delivery.nak(delay_s=self.settings.retry_s)
