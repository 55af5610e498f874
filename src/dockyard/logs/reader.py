"""One source's reader: a followed path (logs/tail.py) made into numbered lines.

Docker's common case goes the fast way: whole json-file lines are shipped as they are, counted
but not decoded (logs/raw.py), when the source has no multi-line rule. Otherwise bytes become
raw lines (logs/framing.py), raw lines records (Docker's json-file entries joined,
logs/jsonfile.py, or a declared file's plain lines), records are joined by the service's
multi-line rule (logs/multiline.py), and each line gets the next number of its source. Every read
also says where a restarted reader would resume so as to make the very same lines under the very
same numbers: past the last line returned, or further when what follows it was no line at all.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.domain.errors import Invalid
from dockyard.logs.checkpoint import Checkpoint
from dockyard.logs.framing import RawLine, Record, Splitter, plain_record
from dockyard.logs.jsonfile import RAW_LIMIT, Entry, Joiner, Seconds, entry_of, parse_lines
from dockyard.logs.multiline import Multiline, MultilineRule
from dockyard.logs.raw import RawLines, docker_lines
from dockyard.logs.record import Line
from dockyard.logs.rotation import Lost
from dockyard.logs.tail import Tail


class Format(enum.StrEnum):
    JSON_FILE = "json-file"
    """Docker's json-file log: the container's stdout and stderr."""
    PLAIN = "plain"
    """A declared log file: one line per record, the time it was read."""


@dataclass(frozen=True)
class ReadLimits:
    """When one read stops: whichever comes first."""

    max_lines: int = 2000
    max_bytes: int = 1 << 20
    max_s: float = 0.2
    chunk_bytes: int = 256 * 1024


DOCKER_PART = 16 * 1024
"""The most bytes of output Docker puts in one json-file entry: a longer line is split."""


@dataclass
class Read:
    """What one read made: `lines`, or Docker's whole lines as they are (`raw`; then `lines`
    is empty); the checkpoint to write once they are stored (`resume`); `at_end`: every byte
    present was read; `lost` and `malformed` to count."""

    lines: list[Line]
    resume: Checkpoint
    at_end: bool
    lost: list[Lost] = field(default_factory=list)
    malformed: int = 0
    bytes_read: int = 0
    raw: RawLines | None = None

    @property
    def count(self) -> int:
        """Lines made, either way."""
        return self.raw.count if self.raw is not None else len(self.lines)


@dataclass
class _Gathered:
    """Whole json-file lines taken as they are during one read: contiguous bytes of one file."""

    parts: list[bytes] = field(default_factory=list)
    count: int = 0
    inode: int = 0
    start: int = 0
    end: int = 0

    def follows(self, inode: int, start: int) -> bool:
        return not self.count or (inode, start) == (self.inode, self.end)

    def add(self, whole: bytes, count: int, inode: int, start: int) -> None:
        if not self.count:
            self.inode, self.start = inode, start
        self.parts.append(whole)
        self.count += count
        self.end = start + len(whole)


class Reader:
    """Reads one source from checkpoint `at` on; not thread-safe (one caller at a time)."""

    def __init__(
        self,
        path: Path,
        *,
        fmt: Format,
        stream: str,
        max_line_bytes: int,
        at: Checkpoint | None,
        multiline: MultilineRule | None = None,
        rotate_bytes: int = 0,
        now_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`stream` names a plain file's lines (its path in the container); `rotate_bytes` is
        the size at which the file is rotated, if known (logs/tail.py)."""
        self._fmt = fmt
        self._stream = stream
        self._now_ns = now_ns
        self._monotonic = monotonic
        self._tail = Tail(path, rotate_bytes=rotate_bytes)
        self._tail.open(at)
        limit = RAW_LIMIT if fmt is Format.JSON_FILE else max_line_bytes
        self._splitter = Splitter(limit)
        self._joiner = Joiner(max_line_bytes)
        self._small = max_line_bytes // 4  # characters that fit the limit whatever their size
        self._seconds = Seconds()
        self._multiline = Multiline(multiline) if multiline else None
        self._seq = at.seq if at else 0  # the last line made
        self._returned = self._seq  # the last line returned
        self._resume = at or Checkpoint(0, 0, 0)
        self._inode = 0  # the file the splitter holds bytes of
        self._next = at.offset if at else 0  # where the bytes it holds end
        self._last: tuple[int, int] | None = None  # (inode, end) of the last line returned
        # Lines made but not yet returned: at most one chunk's worth past a read's max_lines.
        self._ready: list[tuple[Line, int, int]] = []
        # Whole lines go as they are unless a rule joins them; a line as long as one of
        # Docker's parts may be one, and one over the limit must be cut: those go one by one.
        self._raw_longest = (
            min(max_line_bytes, DOCKER_PART) if fmt is Format.JSON_FILE and not multiline else 0
        )
        # Bytes read but left for the next read (it had lines enough): (data, start, inode).
        self._spill: tuple[bytes, int, int] | None = None

    def read(self, limits: ReadLimits, *, final: bool = False) -> Read:
        """The lines the files hold now, up to `limits`. With `final` (the writer is gone) a last
        line without its newline is made too, once every byte present was read."""
        out = Read([], self._resume, at_end=False)
        deadline = self._monotonic() + limits.max_s
        tail_end = False
        gathered = _Gathered()
        # Lines made one by one and left by the last read go out alone, so that the next read
        # starts with none and may take whole lines again.
        reading = not (self._ready and self._raw_longest)
        while (
            reading
            and len(self._ready) + gathered.count < limits.max_lines
            and out.bytes_read < limits.max_bytes
        ):
            span = self._next_bytes(limits, out)
            if span is None:
                tail_end = True
                break
            data, start, inode = span
            if not self._whole(data, start, inode, gathered, limits.max_lines - gathered.count):
                if not self._bulk(data, start, inode, out):
                    self._lines(data, start, inode, out)
                if gathered.count:
                    break  # lines made one by one after raw ones wait for the next read
            if self._monotonic() >= deadline:
                break
        if self._multiline is not None:
            self._emit(self._multiline.due(now=self._monotonic()))
        if tail_end and final:
            self._flush(out)
        if gathered.count:
            out.raw = self._raw_lines(gathered)
        else:
            self._hand_out(limits.max_lines, out)
        out.at_end = tail_end and not self._ready and self._spill is None
        out.lost, self._tail.lost = self._tail.lost, []
        out.resume = self._resume = self._resume_point()
        return out

    def _next_bytes(self, limits: ReadLimits, out: Read) -> tuple[bytes, int, int] | None:
        """(data, file offset, inode) to take next: what the last read left, else the next
        chunk of the files; None at their end."""
        if self._spill is not None:
            span, self._spill = self._spill, None
            return span
        chunk = self._tail.read(limits.chunk_bytes)
        if chunk is None:
            return None
        if chunk.inode != self._inode or chunk.start != self._next:
            self._switch(chunk.inode, out)  # another file, or the same one cut and rewound
        self._next = chunk.start + len(chunk.data)
        out.bytes_read += len(chunk.data)
        return chunk.data, chunk.start, chunk.inode

    def _raw_lines(self, gathered: _Gathered) -> RawLines:
        """The whole lines gathered: numbered before any line made one by one after them."""
        first = self._seq - len(self._ready) - gathered.count + 1
        data = b"".join(gathered.parts)
        return RawLines(first, gathered.count, data, self._now_ns(), gathered.inode,
                        gathered.start, gathered.end)  # fmt: skip

    def _hand_out(self, most: int, out: Read) -> None:
        """Up to `most` of the lines made go into `out`, in order."""
        ready = self._ready
        if not ready or most < 1:
            return
        taken = ready[:most]
        del ready[:most]  # one move of the rest, at most a chunk's worth
        out.lines.extend([line for line, _, _ in taken])
        line, inode, end = taken[-1]
        self._last, self._returned = (inode, end), line.seq

    def close(self) -> None:
        self._tail.close()

    def _whole(self, data: bytes, start: int, inode: int, gathered: _Gathered, room: int) -> bool:
        """Take the whole lines of `data` as they are, at most `room` of them (the others are
        spilled to the next read), and hold the unfinished one; False (nothing taken) unless
        they all are Docker's whole lines and nothing is held from before."""
        if not self._raw_longest or self._ready or self._joiner.holding:
            return False
        held = self._splitter.release() if self._splitter.holding else b""
        if held is None:
            return False
        if held:  # the end of the line the chunk before began
            data, start = held + data, start - len(held)
        cut = data.rfind(b"\n") + 1
        whole = data[:cut] if cut and gathered.follows(inode, start) else b""
        count = docker_lines(whole, longest=self._raw_longest) if whole else 0
        if not count:
            if held:
                self._splitter.feed(held, start)
            return False
        if count > room:
            # Only lines end in a newline: the first `room` lines are their lengths plus one.
            cut = sum(map(len, whole.split(b"\n", room)[:room])) + room
            whole, count = whole[:cut], room
            self._spill = (data[cut:], start + cut, inode)
        else:
            self._splitter.feed(data[cut:], start + cut)
        gathered.add(whole, count, inode, start)
        self._seq += count
        self._returned, self._last = self._seq, (inode, start + cut)
        return True

    def _lines(self, data: bytes, start: int, inode: int, out: Read) -> None:
        """The lines `data` completes, one by one."""
        raws = self._splitter.feed(data, start)
        if self._fmt is Format.JSON_FILE:
            records, malformed = self._joiner.feed(raws, inode=inode, now_ns=self._now_ns())
            out.malformed += malformed
            self._join(records, out)
        else:
            for raw in raws:
                self._take(raw, inode, out)

    def _bulk(self, data: bytes, start: int, inode: int, out: Read) -> bool:
        """Docker's common case in one step: json-file lines without a multi-line rule; False
        (nothing taken) for the others. A line held from the chunk before is ended first, one
        by one; the whole lines after it are decoded together (jsonfile.parse_lines) and made
        Lines straight away, the same as `_lines` makes them, unless one is too long to be
        Docker's or no JSON (then they are taken one by one)."""
        if self._fmt is not Format.JSON_FILE or self._multiline is not None:
            return False
        if self._splitter.holding:
            first = data.find(b"\n")
            if first < 0:
                return False
            self._lines(data[: first + 1], start, inode, out)
            data, start = data[first + 1 :], start + first + 1
        pieces = data.split(b"\n")
        rest = pieces.pop()  # after the last newline: held until its own
        fits = pieces and max(map(len, pieces)) <= RAW_LIMIT
        values = parse_lines(pieces) if fits else None
        if values is None:
            self._lines(data, start, inode, out)
            return True
        self._entries(values, pieces, start, inode, out)
        self._splitter.feed(rest, start + len(data) - len(rest))
        return True

    def _entries(
        self, values: list[Any], pieces: list[bytes], start: int, inode: int, out: Read
    ) -> None:
        """Lines of the decoded entries `values` of the raw lines `pieces` (from offset `start`):
        a whole short line at once, other entries through the joiner, as Joiner.feed does."""
        joiner, seconds, ready, small = self._joiner, self._seconds, self._ready, self._small
        now_ns, seq, end = self._now_ns(), self._seq, start
        second, second_ns = "", 0  # the last UTC second read here, and its nanoseconds
        held = joiner.holding  # changes only in joiner.add
        for value, piece in zip(values, pieces, strict=True):
            end += len(piece) + 1
            log = value.get("log") if type(value) is dict else None
            if type(log) is not str:
                out.malformed += 1
                continue
            stream = value.get("stream")
            stream = stream if type(stream) is str else "stdout"
            when = value.get("time")
            if (type(when) is str and when[:19] == second and len(when) == 30
                    and when[19] == "." and when[29] == "Z" and when[20:29].isdigit()):  # fmt: skip
                time_ns = second_ns + int(when[20:29])  # the common case: no call
            else:
                time_ns = seconds.time_ns(when, value, now_ns)
                second, second_ns = seconds.last
            if not held and len(log) <= small and log.endswith("\n"):
                seq += 1
                ready.append((Line(seq, time_ns, stream, log[:-1], 0), inode, end))
                continue
            self._seq = seq
            self._emit(joiner.add(Entry(log, stream, time_ns), inode=inode, end=end))
            seq, held = self._seq, joiner.holding
        self._seq = seq

    def _switch(self, inode: int, out: Read) -> None:
        """A new file, or the file truncated: a plain line left unfinished ends there (its
        writer moved on); Docker never splits an entry across files."""
        if self._fmt is Format.PLAIN and self._inode:
            raw = self._splitter.flush()
            if raw is not None:
                self._take(raw, self._inode, out)
        self._inode = inode

    def _take(self, raw: RawLine, inode: int, out: Read) -> None:
        if self._fmt is Format.PLAIN:
            record = plain_record(raw, stream=self._stream, time_ns=self._now_ns(), inode=inode)
            self._join([record], out)
            return
        try:
            entry = entry_of(raw, now_ns=self._now_ns())
        except Invalid:
            out.malformed += 1
            return
        self._join(self._joiner.add(entry, inode=inode, end=raw.end), out)

    def _join(self, records: list[Record], out: Read) -> None:
        if self._multiline is None:
            self._emit(records)
            return
        now = self._monotonic()
        for record in records:
            self._emit(self._multiline.add(record, now=now))

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            self._seq += 1
            line = Line(self._seq, record.time_ns, record.stream, record.text, record.cut)
            self._ready.append((line, record.inode, record.end))

    def _flush(self, out: Read) -> None:
        inode, offset = self._tail.position()
        raw = self._splitter.flush()
        if raw is not None:
            self._take(raw, inode, out)
        held = self._joiner.flush(inode=inode, end=offset)
        self._join([held] if held else [], out)
        if self._multiline is not None:
            self._emit(self._multiline.flush())

    def _holding(self) -> bool:
        multiline = self._multiline is not None and self._multiline.holding
        held = bool(self._ready) or self._spill is not None or self._splitter.holding
        return held or self._joiner.holding or multiline

    def _resume_point(self) -> Checkpoint:
        """Past everything read if nothing is held back, else past the last line returned."""
        if not self._holding() and self._tail.opened:
            inode, offset = self._tail.position()
        elif self._last is not None:
            inode, offset = self._last
        else:
            return self._resume
        return self._tail.checkpoint(inode, offset, self._returned)
