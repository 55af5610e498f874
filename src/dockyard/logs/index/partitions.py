"""Partitions, shared by every engine: naming, which ones a search visits and in what order,
which ones retention and the size caps remove, and their files on disk.

A partition holds the lines of one UTC day and one environment, and is named `YYYY-MM-DD_ENV`
(`2026-12-06_online`); an engine keeps each one under the index directory as entries named
for it (`2026-12-06_online.db`, `...db-wal`, or a directory `2026-12-06_online/`). A
partition of an index made before environments had their own is named by its day alone, and
is treated as every environment's.

Why day x environment: each environment keeps its lines for its own number of days, so what
expiry removes is always whole partitions: files deleted, bytes free at once, no rewrite. The
host cap removes whole partitions too. A team's cap cannot: partitions per team as well were
tried and measured (20 teams: tantivy's writers took 650 MB and each commit round 4x as long
as one partition for all, since every partition written has a writer and a commit of its
own; a platform has hundreds of teams). So a team over its cap loses its lines in its
oldest partitions by a delete inside them (`drop_team`): they stop matching at once and stop
counting toward the team's share, while their bytes on disk are freed when the partition
itself goes (expiry or the host cap). A team's share of a partition is estimated from its
number of lines. Searches gain too: an environment's search opens only its partitions.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from dockyard.logs.index.base import Filters, Hit, Key, Order, Page, encode_cursor
from dockyard.logs.retention import Part

NS_PER_DAY = 86_400 * 1_000_000_000
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:_([a-z]+))?(?=$|\.)")

Fetch = Callable[[str, Key | None, int], list[Hit]]
"""(partition, after key, n) -> up to n hits of that partition, in order, after the key."""


def day_of(time_ns: int) -> str:
    return _day_name(time_ns // NS_PER_DAY)


@functools.lru_cache(maxsize=64)
def _day_name(number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()


def day_start_ns(day: str) -> int:
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days * NS_PER_DAY


def name_of(time_ns: int, env: str) -> str:
    """The partition that takes a line of `env` written at `time_ns`."""
    return f"{day_of(time_ns)}_{env}"


def part_of(name: str, size: int = 0, lines: Mapping[str, int] | None = None) -> Part:
    """The partition `name` as retention sees it (env "" for a day-only name), `size` bytes
    shared among teams by their numbers of `lines` held."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a partition name")
    total = sum((lines or {}).values())
    teams = {t: size * n // total for t, n in (lines or {}).items() if n} if total else {}
    return Part(name, match[1], match[2] or "", size, teams)


def days_of(names: Sequence[str]) -> tuple[str, ...]:
    """The distinct days of the partitions `names`, oldest first."""
    return tuple(sorted({part_of(n).day for n in names}))


def days_held(parts: Sequence[Part], *, team: str | None, env: str | None) -> tuple[str, ...]:
    """The days `parts` hold lines of `team` in `env` (None: any), oldest first. A download
    reaches into the archive before the first of them: each environment keeps its own number
    of days and a team over its cap loses days early, so the index's oldest day overall says
    nothing of theirs."""
    names = [p.name for p in parts if team is None or team in p.teams]
    return days_of(visit(names, Filters(env=env), None, Order.OLDEST))


def visit(names: Sequence[str], filters: Filters, after: Key | None, order: Order) -> list[str]:
    """The partitions that may hold hits for `filters` past `after`, in the order to read:
    those of the filters' environment (day-only ones always), in the time range."""
    low = filters.since_ns
    high = filters.until_ns
    if after is not None:
        if order is Order.NEWEST:
            high = after[0] + 1 if high is None else min(high, after[0] + 1)
        else:
            low = after[0] if low is None else max(low, after[0])
    chosen = []
    for name in sorted(names):
        part = part_of(name)
        start = day_start_ns(part.day)
        if (
            (low is None or start + NS_PER_DAY > low)
            and (high is None or start < high)
            and (not filters.env or part.env in ("", filters.env))
        ):
            chosen.append(name)
    return chosen[::-1] if order is Order.NEWEST else chosen


def gather(
    names: Sequence[str], fetch: Fetch, *, after: Key | None, order: Order, limit: int
) -> Page:
    """A page of up to `limit` hits read through `fetch` day by day, in the order of `names`
    (as `visit` gives them); the partitions of one day overlap in time, so theirs are merged."""
    hits: list[Hit] = []
    for _, group in itertools.groupby(names, key=lambda n: part_of(n).day):
        wanted = limit - len(hits)
        day_hits = [hit for name in group for hit in fetch(name, after, wanted)]
        day_hits.sort(key=lambda h: h.key, reverse=order is Order.NEWEST)
        hits.extend(day_hits[:wanted])
        if len(hits) >= limit:
            break
    cursor = encode_cursor(hits[-1], order) if len(hits) == limit else None
    return Page(tuple(hits), cursor)


def expired(names: Sequence[str], before: str) -> list[str]:
    """Partitions of days older than `before`, never those of the newest day."""
    newest = max((part_of(n).day for n in names), default="")
    return [n for n in sorted(names) if part_of(n).day < before and part_of(n).day != newest]


def over_cap(sizes: Sequence[tuple[str, int]], max_bytes: int) -> list[str]:
    """The oldest partitions to remove so the rest fit in `max_bytes` (never those of the
    newest day)."""
    newest = max((part_of(n).day for n, _ in sizes), default="")
    total = sum(size for _, size in sizes)
    out: list[str] = []
    for name, size in sorted(sizes):
        if total <= max_bytes or part_of(name).day == newest:
            break
        out.append(name)
        total -= size
    return out


def oldest_kept(now_ns: int, keep_days: int) -> str:
    """The first day retention keeps when lines stay `keep_days` days (today included)."""
    return day_of(now_ns - (keep_days - 1) * NS_PER_DAY)


def on_disk(root: Path) -> tuple[str, ...]:
    """The partitions that have entries under `root`, oldest first."""
    if not root.is_dir():
        return ()
    found = {m.group(0) for p in root.iterdir() if (m := _NAME.match(p.name))}
    return tuple(sorted(found))


def _entries(root: Path, name: str) -> list[Path]:
    """The files and directories of partition `name` (exactly: a day-only name's entries are
    not those of its day's environments)."""
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if (m := _NAME.match(p.name)) and m.group(0) == name]


def bytes_of(root: Path, name: str) -> int:
    total = 0
    for entry in _entries(root, name):
        paths = entry.rglob("*") if entry.is_dir() else [entry]
        total += sum(p.stat().st_size for p in paths if p.is_file())
    return total


def remove(root: Path, name: str) -> None:
    for entry in _entries(root, name):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


Count = Callable[[str], dict[str, int]]
"""Partition name -> lines per team in it (read through handles of the caller's own)."""


def measure(
    root: Path, names: Sequence[str], *, known: Mapping[str, dict[str, int]], count: Count
) -> tuple[tuple[Part, ...], dict[str, dict[str, int]]]:
    """The partitions `names` with their bytes and lines per team (from `known`, else
    `count`ed), and the new counts worth keeping: those of days before the newest, which
    change only by a drop or a late line (whose commit forgets them). Called without the
    engine's lock, so the writer goes on while a first look counts every partition."""
    newest = max((part_of(n).day for n in names), default="")
    parts, fresh = [], {}
    for name in names:
        lines = known.get(name)
        if lines is None:
            lines = count(name)
            if part_of(name).day != newest:
                fresh[name] = lines
        parts.append(part_of(name, bytes_of(root, name), lines))
    return tuple(parts), fresh


@runtime_checkable
class Partitioned(Protocol):
    """What retention needs of an index (both engines have it): its partitions with their
    sizes, and a way to remove some."""

    def partitions(self) -> tuple[Part, ...]:
        """Every partition held, oldest first, with its bytes on disk."""

    def drop_team(self, name: str, team: str) -> bool:
        """Remove the lines of `team` from partition `name` (they match no search after it
        returns; their bytes are freed when the partition goes); False, doing nothing, if the
        partition is not held or holds staged lines."""

    def drop(self, names: Sequence[str]) -> tuple[str, ...]:
        """Remove the partitions `names` whole; return those removed. A partition holding
        staged lines (added, not yet committed) is kept, so a drop may run while the writer
        works: it never takes lines the writer is about to acknowledge."""
