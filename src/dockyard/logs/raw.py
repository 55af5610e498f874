"""Docker's json-file lines shipped as Docker wrote them: the agent's fast path (logs/reader.py
gathers them, logs/shipper.py publishes them) and the consumers' way back to numbered lines.

A run of whole json-file lines (each `{"log":"…\\n","stream":…,"time":…}` ending in a newline)
already holds everything a Line holds but its number, so the agent sends the bytes as they are,
under a header naming the source, the first line's number and the count; each line's number is
the first plus its place in the run. Consumers (indexer, archiver, drains, live tails) decode the
lines on their side (`RawLines.lines`), the same way the agent's per-line path makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dockyard.domain.errors import Invalid
from dockyard.logs.cut import decode
from dockyard.logs.jsonfile import Seconds, decode_entry, parse_lines
from dockyard.logs.record import Batch, Line, Source, parse_env

FORMAT = 2
"""The wire version of a raw batch (logs/record.FORMAT, 1, is a list of decoded lines)."""
HEAD = b'{"log":"'
"""How Docker starts every json-file line."""


@dataclass(frozen=True, slots=True)
class RawLines:
    """`count` whole json-file lines in `data` (each ending in a newline), numbered from
    `first_seq`; read at `read_ns` (the time of a line whose own cannot be read), from file
    `inode` between offsets `start` and `end`."""

    first_seq: int
    count: int
    data: bytes
    read_ns: int
    inode: int = 0
    start: int = 0
    end: int = 0

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1

    def lines(self) -> tuple[Line, ...]:
        """The numbered lines, as the reader's per-line path makes them of Docker's whole
        lines; a line that is no json-file entry keeps its place and its bytes as text (the
        agent only ships Docker-shaped lines this way, so this is for corrupt files). Invalid
        if the data does not hold `count` lines."""
        pieces = self.data.split(b"\n")
        if pieces.pop() or len(pieces) != self.count:
            raise Invalid(f"a raw batch says {self.count} lines but holds {len(pieces)}")
        values = parse_lines(pieces)
        if values is None:
            values = [_tolerant(piece) for piece in pieces]
        seconds, read_ns, seq = Seconds(), self.read_ns, self.first_seq
        second, second_ns = "", 0  # the last UTC second read here, and its nanoseconds
        out: list[Line] = []
        for value, piece in zip(values, pieces, strict=True):
            log = value.get("log") if type(value) is dict else None
            if type(log) is not str:
                out.append(Line(seq, read_ns, "stdout", decode(piece)))
                seq += 1
                continue
            when = value.get("time")
            if (type(when) is str and when[:19] == second and len(when) == 30
                    and when[19] == "." and when[29] == "Z" and when[20:29].isdigit()):  # fmt: skip
                time_ns = second_ns + int(when[20:29])  # the common case: no call
            else:
                time_ns = seconds.time_ns(when, value, read_ns)
                second, second_ns = seconds.last
            stream = value.get("stream")
            stream = stream if type(stream) is str else "stdout"
            out.append(Line(seq, time_ns, stream, log[:-1] if log[-1:] == "\n" else log))
            seq += 1
        return tuple(out)

    def last_time_ns(self) -> int:
        """The write time of the last line (what a flood budget judges a run by)."""
        last = self.data[self.data.rfind(b"\n", 0, len(self.data) - 1) + 1 : -1]
        try:
            return decode_entry(last, now_ns=self.read_ns).time_ns
        except Invalid:
            return self.read_ns


def _tolerant(piece: bytes) -> Any:
    """One line's JSON value (invalid UTF-8 replaced), or None if it is no JSON."""
    try:
        return orjson.loads(piece)
    except orjson.JSONDecodeError:
        try:
            return orjson.loads(piece.decode("utf-8", "replace"))
        except orjson.JSONDecodeError:
            return None


def docker_lines(whole: bytes, *, longest: int) -> int:
    """How many lines `whole` (bytes ending in a newline, read from a json-file log) holds if
    no line is longer than `longest` bytes, else 0 (the caller takes them one by one; it may
    say 0 for lines over half of `longest` too).

    A few calls in C and no object per line: the agent's hot path. Every stretch of
    `longest // 2` bytes holding a newline bounds each line below `longest`. Docker splits
    output longer than 16 KiB into parts whose lines are longer than that, so with `longest`
    below it every line is a whole entry, and a line no longer than the line limit is never
    cut. An entry whose output lacks its newline (a container's last words) goes as a line of
    its own at once, where the per-line path holds it until the next entry or the writer's
    stop: the same number and text either way, since Docker continues a line in another entry
    only past 16 KiB. What a line holds is not checked beyond the first one's start: a
    json-file log holds Docker's lines only, and consumers keep a line that is none as its
    text (`RawLines.lines`)."""
    if not whole.startswith(HEAD):
        return 0
    size, step = len(whole), max(1, longest // 2)
    for at in range(0, size, step):
        if whole.find(b"\n", at, at + step) < 0:
            return 0
    return whole.count(b"\n")


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Raw lines of one source, as one stream message (the counterpart of record.Batch)."""

    source: Source
    raw: RawLines

    @property
    def first_seq(self) -> int:
        return self.raw.first_seq

    @property
    def last_seq(self) -> int:
        return self.raw.last_seq

    @property
    def count(self) -> int:
        return self.raw.count

    @property
    def msg_id(self) -> str:
        """The same id record.Batch gives the same lines: a batch re-sent after a restart is a
        duplicate whichever way it went."""
        return f"{self.source.key}#{self.first_seq}"

    def encode(self) -> bytes:
        """A one-line JSON header, a newline, then the lines as they are."""
        s, r = self.source, self.raw
        header = {
            "v": FORMAT,
            "src": [s.team, s.service, str(s.env), s.instance, s.channel, s.host],
            "first": r.first_seq,
            "count": r.count,
            "read_ns": r.read_ns,
            "file": [r.inode, r.start, r.end],
        }
        return b"".join((orjson.dumps(header), b"\n", r.data))

    @classmethod
    def decode(cls, header: dict[str, Any], data: bytes) -> RawBatch:
        """The raw batch of a decoded `header` and the bytes after it; Invalid if it is none."""
        try:
            team, service, env, instance, channel, host = header["src"]
            source = Source(team, service, parse_env(env), instance, channel, host)
            inode, start, end = header.get("file") or (0, 0, 0)
            first, count = int(header["first"]), int(header["count"])
            raw = RawLines(first, count, data, int(header["read_ns"]), inode, start, end)
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"not a raw log batch: {exc}") from exc
        if first < 1 or count < 1:
            raise Invalid("a raw log batch carries at least one line, numbered from 1")
        return cls(source, raw)

    def batch(self) -> Batch:
        """The lines decoded: what a consumer works on."""
        return Batch(self.source, self.raw.lines())
