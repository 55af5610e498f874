"""Multi-line records: lines that continue a record (a stack trace's frames) joined to it.

A service's rule names what starts a record (a regex matched at the start of a line); every
other line continues the record before it. A record ends when the next one starts, when it
would grow past `max_bytes` (the rest starts a record of its own, nothing is dropped), when a
line of the other stream comes, or once `max_wait_s` passed since its first line, so a trace
never waits for the next record to be shipped. Pure: the caller passes the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.logs.framing import Record


@dataclass(frozen=True)
class MultilineRule:
    start: re.Pattern[str]
    """What the first line of a record matches (`re.match`: at the start of the line)."""
    max_bytes: int = 64 * 1024
    """A record is ended before it grows past this many bytes of text."""
    max_wait_s: float = 1.0
    """A record is ended this long after its first line came, whatever follows."""


class Multiline:
    """Joins records by one rule; holds at most one record in the making."""

    def __init__(self, rule: MultilineRule) -> None:
        self._rule = rule
        self._parts: list[Record] = []
        self._size = 0
        self._since = 0.0

    @property
    def holding(self) -> bool:
        return bool(self._parts)

    def add(self, record: Record, *, now: float) -> list[Record]:
        """The records ended by `record` coming at `now` (monotonic seconds)."""
        out = self.due(now=now)
        size = len(record.text.encode())
        if self._parts and not self._continues(record, size):
            out.extend(self.flush())
        if not self._parts:
            self._since = now
        self._parts.append(record)
        self._size += size + (1 if len(self._parts) > 1 else 0)
        return out

    def due(self, *, now: float) -> list[Record]:
        """The record held, if it waited `max_wait_s` since its first line."""
        if self._parts and now - self._since >= self._rule.max_wait_s:
            return self.flush()
        return []

    def flush(self) -> list[Record]:
        """The record held, whatever comes next (its source ended)."""
        if not self._parts:
            return []
        parts, self._parts, self._size = self._parts, [], 0
        if len(parts) == 1:
            return parts
        first, last = parts[0], parts[-1]
        text = "\n".join(part.text for part in parts)
        cut = sum(part.cut for part in parts)
        return [Record(first.time_ns, first.stream, text, cut, last.inode, last.end)]

    def _continues(self, record: Record, size: int) -> bool:
        return (
            self._rule.start.match(record.text) is None
            and record.stream == self._parts[0].stream
            and self._size + 1 + size <= self._rule.max_bytes
        )
