"""The read side of the log center, as the API and the portal use it: search, context, a live
tail that follows a service, and downloads that reach back into the archive.

It holds no state of its own: the index (written by the indexer process), the stream (for live
tails) and the archive (for what the index no longer holds) are passed in. Index and archive
calls block; the async methods run them in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dockyard.domain.errors import Unavailable
from dockyard.logs.archive import Archive, rfc3339
from dockyard.logs.index.base import Filters, Hit, LogIndex, Order, Page
from dockyard.logs.index.partitions import day_start_ns, days_held
from dockyard.logs.level import level_of
from dockyard.logs.query import Query, parse, tokens
from dockyard.logs.record import SUBJECT_ROOT, Batch
from dockyard.logs.stats import ServiceStats, merge
from dockyard.logs.stats_board import StatsBoard
from dockyard.logs.stream import LogStream

FOLLOW_CATCH_UP_S = 10.0
"""A live tail asks the stream for batches this far back, so lines published while the index
was being read (not yet searchable) are not missed; lines already shown are skipped."""
FOLLOW_QUEUE = 10_000
"""Lines a live tail holds for a slow client before it drops (and says how many)."""
DOWNLOAD_PAGE = 1000


@dataclass(frozen=True)
class Dropped:
    """Lines a live tail left out, shown to the user as one marker line."""

    count: int
    reason: str


def matches(query: Query, hit: Hit) -> bool:
    """True if `hit` satisfies `query` (the same rules the index engines apply)."""
    if query.levels and hit.level not in query.levels:
        return False
    if query.streams and hit.stream not in query.streams:
        return False
    have = tokens(hit.text)
    return all(_has(have, t.tokens) for t in query.positive) and not any(
        _has(have, t.tokens) for t in query.negative
    )


def _has(have: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(have[i : i + width] == phrase for i in range(len(have) - width + 1))


def in_filters(filters: Filters, hit: Hit) -> bool:
    """True if `hit` lies inside `filters` (a live line is checked as the index would)."""
    checks = (
        filters.team in (None, hit.team),
        filters.service in (None, hit.service),
        filters.env in (None, hit.env),
        not filters.instances or hit.instance in filters.instances,
        not filters.streams or hit.stream in filters.streams,
        not filters.levels or hit.level in filters.levels,
        filters.since_ns is None or hit.time_ns >= filters.since_ns,
        filters.until_ns is None or hit.time_ns < filters.until_ns,
    )
    return all(checks)


def hits_of(batch: Batch) -> Iterator[Hit]:
    s = batch.source
    for line in batch.lines:
        yield Hit(
            team=s.team,
            service=s.service,
            env=str(s.env),
            instance=s.instance,
            channel=s.channel,
            stream=line.stream,
            seq=line.seq,
            time_ns=line.time_ns,
            level=level_of(line.text),
            text=line.text,
        )


def subject_of(filters: Filters) -> str:
    """The narrowest stream subject covering `filters` (NATS wildcards for what is open)."""
    parts = [filters.team, filters.service, filters.env]
    tokens_ = [part or "*" for part in parts]
    instance = filters.instances[0] if len(filters.instances) == 1 else "*"
    return ".".join([SUBJECT_ROOT, *tokens_, instance])


class LogCenter:
    def __init__(
        self,
        index: LogIndex,
        *,
        stream: LogStream | None,
        archive: Archive | None,
        index_days: int,
        clock: Callable[[], float] = time.time,
        stats: StatsBoard | None = None,
    ) -> None:
        """`stats` is where the log center's processes report their counters (None: the
        figures are unavailable)."""
        self.index = index
        self.stream = stream
        self.archive = archive
        self.index_days = index_days
        self._clock = clock
        self.stats = stats

    async def close(self) -> None:
        """Release the index's files and the stream's connection."""
        await asyncio.to_thread(self.index.close)
        if self.stream is not None:
            await self.stream.close()
        if self.stats is not None:
            await self.stats.close()

    async def service_stats(self, team: str, service: str, env: str) -> ServiceStats:
        """The service's counters from every log center process that reported in the last
        minutes (logs/stats.py); Unavailable without a stats board or when it does not answer."""
        if self.stats is None:
            raise Unavailable("the log center's figures are not configured on this server")
        reports = await self.stats.reports(team, service, env)
        now_ns = int(self._clock() * 1e9)
        return merge(reports, team=team, service=service, env=env, now_ns=now_ns)

    async def search(
        self, filters: Filters, text: str, *, cursor: str | None, order: Order, limit: int
    ) -> Page:
        """A page of matching lines; Invalid for a malformed query or cursor."""
        query = parse(text)
        return await asyncio.to_thread(
            self.index.search, filters, query, cursor=cursor, order=order, limit=limit
        )

    async def context(self, *, instance: str, channel: str, seq: int, n: int) -> tuple[Hit, ...]:
        return await asyncio.to_thread(
            self.index.context, instance=instance, channel=channel, seq=seq, n=n
        )

    async def follow(
        self, filters: Filters, text: str, *, tail: int
    ) -> AsyncIterator[Hit | Dropped]:
        """The last `tail` matching lines (oldest first), then every new one as it reaches the
        stream, for the service as a whole: instances started later join, stopped ones leave.
        A client too slow for the flow gets a Dropped marker instead of the lines it missed.
        Raises Unavailable when the stream cannot be followed (the caller says so)."""
        query = parse(text)
        if self.stream is None:
            raise Unavailable("live tails need the log stream: this server has none configured")
        since_ns = int((self._clock() - FOLLOW_CATCH_UP_S) * 1e9)
        queue: asyncio.Queue[Hit | Dropped] = asyncio.Queue(FOLLOW_QUEUE)
        pump = asyncio.create_task(self._pump(filters, query, since_ns, queue))
        try:
            shown: dict[tuple[str, str], int] = {}
            newest = 0
            if tail:
                page = await asyncio.to_thread(
                    self.index.search, filters, query, order=Order.NEWEST, limit=tail
                )
                for hit in reversed(page.hits):
                    shown[(hit.instance, hit.channel)] = max(
                        shown.get((hit.instance, hit.channel), 0), hit.seq
                    )
                    newest = max(newest, hit.time_ns)
                    yield hit
            while True:
                item = await _next(queue, pump)
                if isinstance(item, Hit):
                    key = (item.instance, item.channel)
                    if key in shown and item.seq <= shown[key]:
                        continue
                    if key not in shown and item.time_ns < newest:
                        continue  # older than the lines already shown: it would go back in time
                    shown[key] = item.seq
                yield item
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Unavailable):
                await pump

    async def _pump(
        self, filters: Filters, query: Query, since_ns: int, queue: asyncio.Queue[Hit | Dropped]
    ) -> None:
        assert self.stream is not None
        dropped = 0
        async for batch in self.stream.follow(subject_of(filters), since_ns=since_ns):
            for hit in hits_of(batch):
                if not (in_filters(filters, hit) and matches(query, hit)):
                    continue
                if queue.full():
                    dropped += 1
                    continue
                if dropped:
                    queue.put_nowait(Dropped(dropped, "a client slower than the log"))
                    dropped = 0
                    if queue.full():
                        continue
                queue.put_nowait(hit)

    def download(self, filters: Filters, text: str, *, fmt: str) -> Iterator[bytes]:
        """Every matching line of [since, until) oldest first, as NDJSON or plain text: from
        the archive for the days the index no longer holds, then from the index. Blocking."""
        query = parse(text)
        # Each environment keeps its own days and a team over its cap loses days early: the
        # archive is read up to this team's and environment's first indexed day.
        held = days_held(self.index.partitions(), team=filters.team, env=filters.env)
        first_indexed = day_start_ns(held[0]) if held else None
        if self.archive is not None and filters.service and filters.team and filters.env:
            archive_until = first_indexed if first_indexed is not None else filters.until_ns
            if filters.since_ns is not None and (
                archive_until is None or filters.since_ns < archive_until
            ):
                yield from self._from_archive(filters, query, archive_until, fmt)
        cursor: str | None = None
        indexed = filters
        while True:
            page = self.index.search(
                indexed, query, cursor=cursor, order=Order.OLDEST, limit=DOWNLOAD_PAGE
            )
            yield b"".join(render(hit, fmt) for hit in page.hits)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _from_archive(
        self, filters: Filters, query: Query, until_ns: int | None, fmt: str
    ) -> Iterator[bytes]:
        assert self.archive is not None and filters.since_ns is not None
        assert filters.team and filters.service and filters.env
        until = until_ns if until_ns is not None else int(self._clock() * 1e9)
        lines = self.archive.lines(
            filters.team,
            filters.service,
            filters.env,
            since=datetime.fromtimestamp(filters.since_ns / 1e9, UTC),
            until=datetime.fromtimestamp(until / 1e9, UTC),
            instance=filters.instances[0] if len(filters.instances) == 1 else None,
        )
        for archived in lines:
            hit = next(hits_of(Batch(archived.source, (archived.line,))))
            if in_filters(filters, hit) and matches(query, hit):
                yield render(hit, fmt)


async def _next(queue: asyncio.Queue[Hit | Dropped], pump: asyncio.Task[None]) -> Hit | Dropped:
    """The next queued item; once none is left and the pump has ended (the stream went away),
    what ended it, or Unavailable if it just returned."""
    while True:
        if not queue.empty():
            return queue.get_nowait()
        if pump.done():
            pump.result()
            raise Unavailable("the log stream ended the live tail: follow again")
        getter = asyncio.ensure_future(queue.get())
        try:
            await asyncio.wait([getter, pump], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()  # a cancelled get takes nothing from the queue
        if getter.done() and not getter.cancelled():
            return getter.result()


def render(hit: Hit, fmt: str) -> bytes:
    """One line of a download: an NDJSON record, or `TIME INSTANCE STREAM TEXT`."""
    if fmt == "text":
        return f"{rfc3339(hit.time_ns)} {hit.instance} {hit.stream} {hit.text}\n".encode()
    record = {"time": rfc3339(hit.time_ns), **hit.__dict__}
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"
