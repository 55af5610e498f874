"""The LogIndex on tantivy (PyPI `tantivy`): one index directory per day partition.

A line is one document: `text` tokenized like logs/query.py (letters and digits, lower case,
with positions for phrases), the filter columns as raw terms, `seq` and `time_ns` as integer
fast fields (time order). Each source's high-water mark is one `kind=mark` document per
partition, replaced (delete by term + add) in the same commit as the lines it covers, so a
kill -9 leaves lines and mark agreeing. Readers reload before each search and so see every
commit of the writing process (which holds the partition's writer lock).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import tantivy

from dockyard.domain.errors import Unavailable
from dockyard.logs.index import partitions
from dockyard.logs.index.base import (
    Added,
    Filters,
    Hit,
    Key,
    LevelPatterns,
    Order,
    Page,
    check_context,
    check_limit,
    decode_cursor,
)
from dockyard.logs.index.marks import Marks
from dockyard.logs.index.tantivy_query import SCHEMA, Where
from dockyard.logs.level import level_of
from dockyard.logs.query import Query, parse
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.retention import Part

WRITER_HEAP = 128_000_000
EVERYTHING = parse("")
TIES = 100_000
"""Most lines of one nanosecond read to order ties exactly (far beyond any real burst)."""


class TantivyIndex:
    """A LogIndex (logs/index/base.py) in tantivy directories under `root`."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._lock = threading.RLock()
        self._indexes: dict[str, tantivy.Index] = {}
        self._writers: dict[str, tantivy.IndexWriter] = {}
        self._marks = Marks(self._read_marks)
        self._staged_days: dict[str, dict[str, int]] = {}
        self._team_lines: dict[str, dict[str, int]] = {}
        """Lines per team of each partition, counted when retention asks, until it changes."""

    # -- writing -------------------------------------------------------------------------

    def add(self, batches: Sequence[Batch], *, patterns: LevelPatterns | None = None) -> Added:
        with self._lock:
            lines = duplicates = newest = 0
            for batch in batches:
                fresh = self._marks.fresh(batch)
                duplicates += len(batch.lines) - len(fresh)
                if not fresh:
                    continue
                pattern = (patterns or {}).get((batch.source.team, batch.source.service))
                env = str(batch.source.env)
                for line in fresh:
                    day = partitions.name_of(line.time_ns, env)
                    self._writer(day).add_document(_document(batch.source, line, pattern))
                    self._staged_days.setdefault(day, {})[batch.source.key] = line.seq
                self._marks.stage(batch.source.key, fresh[-1].seq)
                lines += len(fresh)
                newest = max(newest, *(line.time_ns for line in fresh))
            return Added(lines, duplicates, newest)

    def commit(self) -> None:
        with self._lock:
            for day, marks in self._staged_days.items():
                self._team_lines.pop(day, None)  # counted before this commit, maybe
                writer = self._writer(day)
                for key, seq in marks.items():
                    writer.delete_documents_by_term("mark", key)
                    writer.add_document(tantivy.Document(kind="mark", mark=key, seq=seq))
            try:
                for day in self._staged_days:
                    self._writers[day].commit()
            except ValueError as exc:
                raise Unavailable(f"the log index refused a commit: {exc}") from exc
            for day in set(self._writers) - set(self._staged_days):
                self._writers.pop(day).wait_merging_threads()  # idle: free its heap
            self._marks.committed()
            self._staged_days.clear()

    def rollback(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.rollback()
            self._writers.clear()
            self._staged_days.clear()
            self._marks.reset()

    def held(self, source: str) -> int:
        with self._lock:
            return self._marks.held(source)

    def _writer(self, day: str) -> tantivy.IndexWriter:
        writer = self._writers.get(day)
        if writer is None:
            try:
                writer = self._index(day).writer(heap_size=WRITER_HEAP, num_threads=2)
            except ValueError as exc:
                raise Unavailable(f"the log index partition {day} is locked: {exc}") from exc
            self._writers[day] = writer
        return writer

    def _read_marks(self) -> Iterator[tuple[str, int]]:
        for day in self._ready():
            searcher = self._searcher(day)
            for _, address in searcher.search(Where.marks(), TIES, count=False).hits:
                doc = searcher.doc(address)
                yield str(doc.get_first("mark")), int(doc.get_first("seq") or 0)

    # -- reading -------------------------------------------------------------------------

    def search(
        self,
        filters: Filters,
        query: Query,
        *,
        cursor: str | None = None,
        order: Order = Order.NEWEST,
        limit: int = 100,
    ) -> Page:
        check_limit(limit)
        after = decode_cursor(cursor, order) if cursor else None
        with self._lock:
            days = partitions.visit(self._held(), filters, after, order)
            where = Where(filters, query)

            def fetch(day: str, key: Key | None, n: int) -> list[Hit]:
                return _page(self._searcher(day), where, key, order, n)

            return partitions.gather(days, fetch, after=after, order=order, limit=limit)

    def count(self, filters: Filters, query: Query) -> int:
        with self._lock:
            where = Where(filters, query)
            days = partitions.visit(self._held(), filters, None, Order.OLDEST)
            return sum(_count(self._searcher(d), where.lines()) for d in days)

    def context(self, *, instance: str, channel: str, seq: int, n: int) -> tuple[Hit, ...]:
        check_context(n)
        with self._lock:
            hits: list[Hit] = []
            for day in self._held():
                searcher = self._searcher(day)
                found = searcher.search(
                    Where.around(instance, channel, seq - n, seq + n), 2 * n + 1, count=False
                )
                hits.extend(_hit(searcher.doc(address)) for _, address in found.hits)
            ordered = sorted(hits, key=lambda h: h.seq)
            return tuple(ordered) if any(h.seq == seq for h in ordered) else ()

    def _index(self, day: str) -> tantivy.Index:
        index = self._indexes.get(day)
        if index is None:
            path = self.root / day
            path.mkdir(exist_ok=True)
            index = self._indexes[day] = tantivy.Index(SCHEMA, path=str(path), reuse=True)
        return index

    def _searcher(self, day: str) -> tantivy.Searcher:
        index = self._index(day)
        index.reload()  # the writer may be another process: pick up its last commit
        return index.searcher()

    # -- partitions ----------------------------------------------------------------------

    def days(self) -> tuple[str, ...]:
        return partitions.days_of(self._held())

    def _held(self) -> tuple[str, ...]:
        """The partitions with a first commit (names), oldest first; removed ones forgotten."""
        with self._lock:
            held = self._ready()
            for gone in set(self._indexes) - set(held):
                self._forget(gone)
            return held

    def partitions(self) -> tuple[Part, ...]:
        with self._lock:
            held, known = self._held(), dict(self._team_lines)
        parts, fresh = partitions.measure(self.root, held, known=known, count=self._count_teams)
        with self._lock:
            self._team_lines.update(fresh)
        return parts

    def _count_teams(self, name: str) -> dict[str, int]:
        """Lines per team of partition `name` (its teams read from its marks' source keys),
        through an index handle of its own."""
        try:
            searcher = tantivy.Index(SCHEMA, path=str(self.root / name), reuse=True).searcher()
        except ValueError as exc:
            raise Unavailable(f"the log index partition {name} cannot be read: {exc}") from exc
        found = searcher.search(Where.marks(), TIES, count=False).hits
        teams = {str(searcher.doc(a).get_first("mark")).split("/", 1)[0] for _, a in found}
        counts = {t: _count(searcher, Where(Filters(team=t), EVERYTHING).lines()) for t in teams}
        return {team: n for team, n in counts.items() if n}

    def drop_team(self, name: str, team: str) -> bool:
        with self._lock:
            if name not in self._held() or name in self._staged_days:
                return False
            writer = self._writer(name)
            try:
                writer.delete_documents_by_term("team", team)  # lines only: marks have no team
                writer.commit()
            except ValueError as exc:
                raise Unavailable(f"the log index refused a delete in {name}: {exc}") from exc
            finally:
                self._writers.pop(name).wait_merging_threads()  # idle: free its heap
                self._team_lines.pop(name, None)
            return True

    def drop(self, names: Sequence[str]) -> tuple[str, ...]:
        with self._lock:
            wanted = set(names)
            return self._drop([n for n in self._held() if n in wanted])

    def _ready(self) -> tuple[str, ...]:
        """Partitions with a first commit: a reader never opens (and so never creates) an
        index the writer is making at this moment."""
        days = partitions.on_disk(self.root)
        return tuple(d for d in days if (self.root / d / "meta.json").exists())

    def drop_before(self, day: str) -> tuple[str, ...]:
        with self._lock:
            return self._drop(partitions.expired(self._held(), day))

    def cap(self, max_bytes: int) -> tuple[str, ...]:
        with self._lock:
            sizes = [(n, partitions.bytes_of(self.root, n)) for n in self._held()]
            return self._drop(partitions.over_cap(sizes, max_bytes))

    def size_bytes(self) -> int:
        return sum(partitions.bytes_of(self.root, d) for d in partitions.on_disk(self.root))

    def _drop(self, names: Sequence[str]) -> tuple[str, ...]:
        """Remove the partitions `names` but those holding staged lines (they are about to be
        committed and acknowledged)."""
        days = [n for n in names if n not in self._staged_days]
        for day in days:
            self._forget(day)
            partitions.remove(self.root, day)
        if days:
            self._marks.reread()
        return tuple(days)

    def _forget(self, day: str) -> None:
        writer = self._writers.pop(day, None)
        if writer is not None:
            writer.rollback()
        self._indexes.pop(day, None)
        self._staged_days.pop(day, None)
        self._team_lines.pop(day, None)

    def close(self) -> None:
        with self._lock:
            self.rollback()
            self._indexes.clear()


def _document(source: Source, line: Line, pattern: re.Pattern[str] | None) -> tantivy.Document:
    return tantivy.Document(
        kind="line",
        team=source.team,
        service=source.service,
        env=str(source.env),
        instance=source.instance,
        channel=source.channel,
        stream=line.stream,
        level=level_of(line.text, pattern) or "none",
        seq=line.seq,
        time_ns=line.time_ns,
        text=line.text,
    )


def _page(
    searcher: tantivy.Searcher, where: Where, after: Key | None, order: Order, n: int
) -> list[Hit]:
    """Up to `n` hits after `after` in exact key order: tantivy orders by time only, so the
    lines sharing the boundary times are read whole and ordered here."""
    tantivy_order = tantivy.Order.Desc if order is Order.NEWEST else tantivy.Order.Asc
    found = searcher.search(
        where.lines(beyond=after[0] if after else None, order=order),
        n,
        count=False,
        order_by_field="time_ns",
        order=tantivy_order,
    ).hits
    addresses = [address for _, address in found]
    edges = set()
    if after is not None:
        edges.add(after[0])
    if len(found) == n:
        edges.add(int(found[-1][0]))
        addresses = [a for t, a in found if int(t) != int(found[-1][0])]
    hits = [_hit(searcher.doc(a)) for a in addresses]
    for time_ns in edges:
        tied = searcher.search(where.lines(at=time_ns), TIES, count=False).hits
        hits.extend(_hit(searcher.doc(a)) for _, a in tied)
    newest = order is Order.NEWEST
    if after is not None:
        hits = [h for h in hits if (h.key < after if newest else h.key > after)]
    unique = {h.key: h for h in hits}
    return sorted(unique.values(), key=lambda h: h.key, reverse=newest)[:n]


def _count(searcher: tantivy.Searcher, query: tantivy.Query) -> int:
    found: Any = searcher.search(query, 1, count=True)
    return int(found.count or 0)


def _hit(doc: tantivy.Document) -> Hit:
    d: dict[str, Any] = {name: values[0] for name, values in doc.to_dict().items() if values}
    return Hit(
        team=d["team"],
        service=d["service"],
        env=d["env"],
        instance=d["instance"],
        channel=d["channel"],
        stream=d["stream"],
        seq=int(d["seq"]),
        time_ns=int(d["time_ns"]),
        level="" if d["level"] == "none" else d["level"],
        text=d["text"],
    )
