"""The LogIndex seam: where the indexer writes lines and the API searches them.

Contract, which every engine passes in tests/conformance/test_log_index.py:
- `add` is idempotent per source: a line whose number is at or below the highest number the
  index holds for its source is skipped (counted, not an error), so a batch redelivered after
  a crash, whole or cut elsewhere, adds nothing twice. That high-water mark is written in the
  same commit as the lines, one table per day partition.
- Nothing added is visible to searches, here or in another process, before `commit`; after it
  returns, every added line is, and survives a crash (kill -9) of the writing process.
- Lines live in one partition per UTC day of their time and environment
  (logs/index/partitions.py says why); `drop_before`, `cap` and `drop` remove whole
  partitions and `drop_team` one team's lines in one, never in a partition holding staged
  lines; the first two go oldest first and never touch the newest day (collection never
  stops). logs/retention.py decides what `drop` and `drop_team` remove.
- Hits come in order of (time, instance, channel, seq), newest or oldest first; a page's
  `next_cursor` continues exactly after its last hit (no line twice, none skipped), even while
  lines are being added. A cursor is opaque; a malformed one raises Invalid.
- One process writes (the indexer); any number read (servers) while it does.
"""

from __future__ import annotations

import base64
import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.domain.errors import Invalid, Malformed
from dockyard.logs.query import Query
from dockyard.logs.record import Batch
from dockyard.logs.retention import Part

MAX_LIMIT = 1000
"""Most hits one page may hold."""
MAX_CONTEXT = 500
"""Most lines on each side that `context` returns."""

LevelPatterns = Mapping[tuple[str, str], re.Pattern[str]]
"""Per (team, service): the pattern that finds a line's level when it is not JSON."""


class Order(enum.StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


@dataclass(frozen=True)
class Filters:
    """Which lines a search may see. None or empty means any; `team` None is the admin's view.
    `since_ns` is inclusive and `until_ns` exclusive (nanoseconds since the epoch, UTC)."""

    team: str | None = None
    service: str | None = None
    env: str | None = None
    instances: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    since_ns: int | None = None
    until_ns: int | None = None


@dataclass(frozen=True)
class Hit:
    """One indexed line and where it came from."""

    team: str
    service: str
    env: str
    instance: str
    channel: str
    stream: str
    seq: int
    time_ns: int
    level: str
    text: str

    @property
    def key(self) -> tuple[int, str, str, int]:
        """The order of the merged view (instance ids are unique across the platform)."""
        return (self.time_ns, self.instance, self.channel, self.seq)


@dataclass(frozen=True)
class Page:
    hits: tuple[Hit, ...]
    next_cursor: str | None
    """Pass it back for the next page; None when this page is the last."""


@dataclass(frozen=True)
class Added:
    """What one `add` did: lines written, and lines skipped as already held."""

    lines: int = 0
    duplicates: int = 0
    newest_ns: int = 0
    """Time of the newest line written (0 if none): the indexer's lag is now minus this."""


class LogIndex(Protocol):
    """A day-partitioned full-text index of log lines (see the module's contract)."""

    def add(self, batches: Sequence[Batch], *, patterns: LevelPatterns | None = None) -> Added:
        """Stage the lines of `batches` not yet held (see the contract), each with its level
        (logs/level.py, with the service's pattern from `patterns`). Visible after `commit`."""

    def held(self, source: str) -> int:
        """The highest line number of source `source` (its key) the index holds or has staged;
        0 if none. Lines come in order per source, so the next line expected is this + 1."""

    def commit(self) -> None:
        """Make every staged line durable and searchable. Unavailable (DiskFull) if the disk
        refuses: the staged lines stay staged until `rollback` or a later `commit`."""

    def rollback(self) -> None:
        """Drop every staged line: the index holds what its last commit left (lines and marks),
        so the same batches may be added again."""

    def search(
        self,
        filters: Filters,
        query: Query,
        *,
        cursor: str | None = None,
        order: Order = Order.NEWEST,
        limit: int = 100,
    ) -> Page:
        """Up to `limit` (1..MAX_LIMIT) matching lines in `order`, after `cursor`."""

    def count(self, filters: Filters, query: Query) -> int:
        """How many lines match."""

    def context(self, *, instance: str, channel: str, seq: int, n: int) -> tuple[Hit, ...]:
        """Line `seq` of the source (instance, channel) with up to `n` lines before and after
        it, in seq order; () if the index does not hold that line."""

    def days(self) -> tuple[str, ...]:
        """The days (YYYY-MM-DD, UTC) some partition holds, oldest first."""

    def partitions(self) -> tuple[Part, ...]:
        """Every partition held (name, day, environment), oldest first, with its bytes on
        disk and each team's share of them."""

    def drop_team(self, name: str, team: str) -> bool:
        """Remove the lines of `team` from partition `name`: no search finds them once it
        returns, and a redelivered batch does not add them again; their bytes are freed when
        the partition goes. False, doing nothing, if the partition is not held or holds
        staged lines."""

    def drop(self, names: Sequence[str]) -> tuple[str, ...]:
        """Remove the partitions `names` whole, except any holding staged lines (so a drop may
        run beside the writer); return the names removed."""

    def drop_before(self, day: str) -> tuple[str, ...]:
        """Remove the partitions of days older than `day`, never those of the newest day;
        return the names removed."""

    def cap(self, max_bytes: int) -> tuple[str, ...]:
        """Remove the oldest partitions until the index takes at most `max_bytes` on disk
        (keeping the newest day's whatever their size); return the names removed."""

    def size_bytes(self) -> int:
        """Bytes the index takes on disk."""

    def close(self) -> None:
        """Release files and writers; staged lines not committed are dropped."""


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit {limit} is out of range: use 1 to {MAX_LIMIT}", field="limit")


def check_context(n: int) -> None:
    if not 0 <= n <= MAX_CONTEXT:
        raise Invalid(f"context {n} is out of range: use 0 to {MAX_CONTEXT}", field="context")


Key = tuple[int, str, str, int]


def encode_cursor(hit: Hit, order: Order) -> str:
    raw = json.dumps([order.value, *hit.key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> Key:
    """The key a page ended at; Malformed if `cursor` is not one `encode_cursor` made for
    `order`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, time_ns, instance, channel, seq = json.loads(raw)
        key = (int(time_ns), str(instance), str(channel), int(seq))
    except (ValueError, TypeError) as exc:
        raise Malformed(
            "the cursor is not one a search returned: search again without it", field="cursor"
        ) from exc
    if made_for != order.value:
        raise Malformed(
            f"the cursor belongs to a {made_for}-first search: keep the order or drop the cursor",
            field="cursor",
        )
    return key
