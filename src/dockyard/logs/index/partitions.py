"""Day partitions, shared by every engine: naming, which ones a search visits and in what
order, which ones retention and the size cap remove, and their files on disk.

A partition is named by its UTC day, `YYYY-MM-DD`; an engine keeps each one under the index
directory as entries whose names start with it (`2026-12-06.db`, `2026-12-06.db-wal`, or a
directory `2026-12-06/`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from dockyard.logs.index.base import Filters, Hit, Key, Order, Page, encode_cursor

NS_PER_DAY = 86_400 * 1_000_000_000
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})")

Fetch = Callable[[str, Key | None, int], list[Hit]]
"""(day, after key, n) -> up to n hits of that partition, in the search's order, after the key."""


def day_of(time_ns: int) -> str:
    return _day_name(time_ns // NS_PER_DAY)


@functools.lru_cache(maxsize=64)
def _day_name(number: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=number)).isoformat()


def day_start_ns(day: str) -> int:
    return (dt.date.fromisoformat(day) - dt.date(1970, 1, 1)).days * NS_PER_DAY


def visit(days: Sequence[str], filters: Filters, after: Key | None, order: Order) -> list[str]:
    """The partitions that may hold hits for `filters` past `after`, in the order to read."""
    low = filters.since_ns
    high = filters.until_ns
    if after is not None:
        if order is Order.NEWEST:
            high = after[0] + 1 if high is None else min(high, after[0] + 1)
        else:
            low = after[0] if low is None else max(low, after[0])
    chosen = [
        d
        for d in sorted(days)
        if (low is None or day_start_ns(d) + NS_PER_DAY > low)
        and (high is None or day_start_ns(d) < high)
    ]
    return chosen[::-1] if order is Order.NEWEST else chosen


def gather(
    days: Sequence[str], fetch: Fetch, *, after: Key | None, order: Order, limit: int
) -> Page:
    """A page of up to `limit` hits read partition by partition through `fetch`."""
    hits: list[Hit] = []
    for day in days:
        hits.extend(fetch(day, after, limit - len(hits)))
        if len(hits) >= limit:
            break
    cursor = encode_cursor(hits[-1], order) if len(hits) == limit else None
    return Page(tuple(hits), cursor)


def expired(days: Sequence[str], before: str) -> list[str]:
    """Partitions older than the day `before`, never the newest one."""
    ordered = sorted(days)
    return [d for d in ordered[:-1] if d < before]


def over_cap(sizes: Sequence[tuple[str, int]], max_bytes: int) -> list[str]:
    """The oldest partitions to remove so the rest fit in `max_bytes` (never the newest)."""
    ordered = sorted(sizes)
    total = sum(size for _, size in ordered)
    out: list[str] = []
    for day, size in ordered[:-1]:
        if total <= max_bytes:
            break
        out.append(day)
        total -= size
    return out


def oldest_kept(now_ns: int, keep_days: int) -> str:
    """The first day retention keeps when lines stay `keep_days` days (today included)."""
    return day_of(now_ns - (keep_days - 1) * NS_PER_DAY)


def on_disk(root: Path) -> tuple[str, ...]:
    """The days that have entries under `root`, oldest first."""
    if not root.is_dir():
        return ()
    found = {m.group(1) for p in root.iterdir() if (m := _DAY.match(p.name))}
    return tuple(sorted(found))


def bytes_of(root: Path, day: str) -> int:
    total = 0
    for entry in root.glob(f"{day}*"):
        paths = entry.rglob("*") if entry.is_dir() else [entry]
        total += sum(p.stat().st_size for p in paths if p.is_file())
    return total


def remove(root: Path, day: str) -> None:
    for entry in root.glob(f"{day}*"):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
