"""Framing: from the bytes of a followed file to newline-terminated raw lines, and the record
that sources make of them (logs/jsonfile.py for Docker's files, `plain_record` for declared ones).

Every raw line carries the file offset just past its newline, so a reader can checkpoint a
position that is always the start of a line. A line longer than the limit is kept only up to
the limit and its other bytes counted, so memory stays bounded (logs/cut.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.logs.cut import Bounded, decode, marker


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of a file without its newline: `data` kept, `cut` bytes dropped, `end` the file
    offset just past the newline (or past the last byte, for a line flushed without one)."""

    data: bytes
    cut: int
    end: int


@dataclass(frozen=True, slots=True)
class Record:
    """One record as a source made it, before it is numbered (logs/record.Line has the number).
    `end` is the offset in the file `inode` just past the record's last byte."""

    time_ns: int
    stream: str
    text: str
    cut: int
    inode: int
    end: int


class Splitter:
    """Cuts a file's bytes into raw lines, keeping at most `limit` bytes of the unfinished one."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending = Bounded(limit)
        self._pending_end = 0

    @property
    def holding(self) -> bool:
        """True while bytes of an unfinished line are held."""
        return not self._pending.empty

    def feed(self, data: bytes, start: int) -> list[RawLine]:
        """The lines that `data`, read from file offset `start`, completes."""
        out: list[RawLine] = []
        pieces = data.split(b"\n")  # one C call: this is the agent's hot path
        rest = pieces.pop()
        end, limit = start, self._limit
        fresh = self._pending.empty  # only the first piece may continue held bytes
        for piece in pieces:
            end += len(piece) + 1
            if fresh and len(piece) <= limit:
                out.append(RawLine(piece, 0, end))
            else:
                self._pending.add(piece)
                out.append(RawLine(self._pending.kept(), self._pending.cut, end))
                self._pending = Bounded(limit)
                fresh = True
        if rest:
            self._pending.add(rest)
            self._pending_end = start + len(data)
        return out

    def release(self) -> bytes | None:
        """The bytes of the unfinished line, no longer held (the caller completes the line
        itself, or feeds them back); None, and nothing changed, if some were already cut."""
        if self._pending.cut:
            return None
        held = self._pending.kept()
        self._pending = Bounded(self._limit)
        return held

    def flush(self) -> RawLine | None:
        """The unfinished line as it is (its writer is gone, or moved to a new file), or None."""
        if self._pending.empty:
            return None
        line = RawLine(self._pending.kept(), self._pending.cut, self._pending_end)
        self._pending = Bounded(self._limit)
        return line


def plain_record(line: RawLine, *, stream: str, time_ns: int, inode: int) -> Record:
    """A declared file's line as a record: its time is when it was read."""
    text = decode(line.data) + (marker(line.cut) if line.cut else "")
    return Record(time_ns, stream, text, line.cut, inode, line.end)
