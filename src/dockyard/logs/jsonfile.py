"""Docker's json-file log format, as the agent reads it straight from a container's LogPath.

Each line of the file is one entry `{"log":"...","stream":"stdout|stderr","time":"RFC3339Nano"}`.
Docker splits a line longer than 16 KiB into several entries and only the last one's `log` ends
in "\\n": `Joiner` puts them together again as one record, cut at the line limit with a marker
(logs/cut.py), and holds at most the limit in memory however many parts come.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from dockyard.domain.errors import Invalid
from dockyard.logs.cut import Bounded, decode, marker
from dockyard.logs.framing import RawLine, Record

# Docker's entries hold at most 16 KiB of output; JSON escaping may make one six times longer.
# A raw line longer than this is not Docker's, and is skipped as malformed.
RAW_LIMIT = 6 * 16 * 1024 + 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded line of a json-file log; `final` is False for all but the last part of a
    line Docker split."""

    log: str
    stream: str
    time_ns: int

    @property
    def final(self) -> bool:
        return self.log.endswith("\n")


_decoder = json.JSONDecoder()
_decode = _decoder.decode
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
"""The C scanner itself: a line that is exactly one JSON value (Docker's) skips the checks
for surrounding white space that `decode` makes; any other line goes through `decode`."""


def decode_entry(raw: bytes, *, now_ns: int) -> Entry:
    """The entry in one raw line. Invalid UTF-8 becomes U+FFFD; a missing or unreadable time
    becomes `now_ns`. Raises Invalid if the line is not a json-file entry."""
    try:
        body = _decode(raw.decode("utf-8", "replace"))
        log = body["log"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(f"not a Docker json-file entry: {exc}") from exc
    if not isinstance(log, str):
        raise Invalid("not a Docker json-file entry: its log is not a string")
    stream = body.get("stream")
    return Entry(log, stream if isinstance(stream, str) else "stdout", time_of(body, now_ns))


def time_of(body: dict[str, object], now_ns: int) -> int:
    """The entry's time, or `now_ns` if it has none that can be read."""
    when = body.get("time")
    if not isinstance(when, str):
        return now_ns
    # Docker's own form, `2026-12-06T17:54:38.123456789Z`, without the general parser.
    if len(when) == 30 and when[19] == "." and when[29] == "Z" and when[20:29].isdigit():
        seconds = _utc_ns(when[:19])
        if seconds is not None:
            return seconds + int(when[20:29])
    try:
        return parse_time(when)
    except Invalid:
        return now_ns


def parse_time(value: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to 9 fractional digits, as Docker
    writes it (`2026-12-06T17:54:38.123456789Z`). Raises Invalid if it is not one."""
    main, offset = (value[:-1], "+00:00") if value.endswith("Z") else (value[:-6], value[-6:])
    seconds, _, fraction = main.partition(".")
    if not fraction.isdigit() and fraction:
        raise Invalid(f"{value!r} is not an RFC 3339 time")
    return _epoch(seconds + offset) * 1_000_000_000 + int((fraction + "00000000")[:9] or 0)


_SECONDS: dict[str, int] = {}  # `YYYY-MM-DDTHH:MM:SS` (UTC) -> ns, the last few seen


def _utc_ns(seconds: str) -> int | None:
    """Nanoseconds of a UTC second as Docker writes it; None if it is not one."""
    found = _SECONDS.get(seconds)
    if found is None:
        try:
            found = _epoch(seconds + "+00:00") * 1_000_000_000
        except Invalid:
            return None
        if len(_SECONDS) > 64:
            _SECONDS.clear()
        _SECONDS[seconds] = found
    return found


@lru_cache(maxsize=64)
def _epoch(seconds: str) -> int:
    """Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS+HH:MM` (cached: consecutive lines mostly
    share their second)."""
    try:
        return int(datetime.fromisoformat(seconds).timestamp())
    except ValueError as exc:
        raise Invalid(f"{seconds!r} is not an RFC 3339 time") from exc


class Joiner:
    """Joins the parts of lines Docker split into records, cut at `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts = Bounded(limit)
        self._first: Entry | None = None

    @property
    def holding(self) -> bool:
        """True while parts of an unfinished line are held."""
        return self._first is not None

    def add(self, entry: Entry, *, inode: int, end: int) -> list[Record]:
        """The records `entry` finishes: none while parts of a line are still to come, two when
        it comes from the other stream than the parts held (those are then ended as they are,
        rather than glued to another stream's line). `end` is the file offset just past the
        entry's raw line in the file `inode`."""
        if self._first is None and entry.final and len(entry.log) * 4 <= self._limit:
            # Fast path: a whole line that fits whatever its characters' sizes.
            return [Record(entry.time_ns, entry.stream, entry.log[:-1], 0, inode, end)]
        out: list[Record] = []
        if self._first is not None and self._first.stream != entry.stream:
            out.append(self._finish(inode, end, final=False))
        if self._first is None:
            self._first = entry
        self._parts.add(entry.log.encode("utf-8", "replace"))
        if entry.final:
            out.append(self._finish(inode, end, final=True))
        return out

    def feed(self, lines: list[RawLine], *, inode: int, now_ns: int) -> tuple[list[Record], int]:
        """The records `lines` of file `inode` finish, and how many lines were no entry.

        The same as `entry_of` and `add` line by line, with the common case (a whole line of
        Docker's own form) taken in one step: this loop is the agent's hot path.
        """
        out: list[Record] = []
        malformed = 0
        small = self._limit // 4
        second, second_ns = "", 0  # the last UTC second read, and its nanoseconds
        for raw in lines:
            try:
                body = _one_value(raw.data.decode("utf-8", "replace")) if not raw.cut else None
                log = body["log"] if body is not None else None
            except (ValueError, KeyError, TypeError):
                log = None
            if type(log) is not str:
                malformed += 1
                continue
            assert body is not None
            stream = body.get("stream")
            stream = stream if type(stream) is str else "stdout"
            when = body.get("time")
            docker_form = (type(when) is str and len(when) == 30 and when[19] == "."
                           and when[29] == "Z" and when[20:29].isdigit())  # fmt: skip
            if docker_form and when[:19] == second:
                # Consecutive lines mostly share their second: read once, not per line.
                time_ns = second_ns + int(when[20:29])
            else:
                time_ns = time_of(body, now_ns)
                if docker_form and (found := _utc_ns(when[:19])) is not None:
                    second, second_ns = when[:19], found
            if self._first is None and log.endswith("\n") and len(log) <= small:
                out.append(Record(time_ns, stream, log[:-1], 0, inode, raw.end))
            else:
                out.extend(self.add(Entry(log, stream, time_ns), inode=inode, end=raw.end))
        return out, malformed

    def flush(self, *, inode: int, end: int) -> Record | None:
        """The unfinished line as it is (the container stopped without a last newline)."""
        return self._finish(inode, end, final=False) if self._first is not None else None

    def _finish(self, inode: int, end: int, *, final: bool) -> Record:
        first, parts = self._first, self._parts
        assert first is not None
        self._first, self._parts = None, Bounded(self._limit)
        kept, cut = parts.kept(), parts.cut
        # The newline that ends a complete line is not part of the record: it is either the
        # last kept byte or, in a cut record, the last byte counted.
        if final and cut:
            cut -= 1
        elif final:
            kept = kept[:-1]
        text = decode(kept) + (marker(cut) if cut else "")
        return Record(first.time_ns, first.stream, text, cut, inode, end)


GROUP_BYTES = 64 * 1024
"""Lines decoded in one call at most (about): the decoder briefly needs several times the bytes
it reads, so a chunk of long lines is decoded in parts."""


def parse_lines(pieces: list[bytes]) -> list[Any] | None:
    """The JSON value of each raw line in `pieces`, decoded a group of lines per call: the
    agent's hot path. None unless every line is valid JSON and the values are as many as the
    lines (the caller then takes the lines one by one).

    Docker writes one object per line (JSON escapes every newline inside it), so a value never
    spans lines in a json-file log: as many values as lines means one per line."""
    total = sum(map(len, pieces))
    per = max(1, len(pieces) * GROUP_BYTES // max(total, 1))
    values: list[Any] = []
    for first in range(0, len(pieces), per):
        group = pieces[first : first + per]
        try:
            decoded = orjson.loads(b"[" + b",".join(group) + b"]")
        except orjson.JSONDecodeError:
            return None
        if len(decoded) != len(group):
            return None
        values.extend(decoded)
    return values


class Seconds:
    """Entry times in Docker's own form, reading each UTC second once: consecutive lines mostly
    share it."""

    __slots__ = ("_second", "_second_ns")

    def __init__(self) -> None:
        self._second, self._second_ns = "", 0

    @property
    def last(self) -> tuple[str, int]:
        """The last second read (`YYYY-MM-DDTHH:MM:SS`) and its nanoseconds since the epoch."""
        return self._second, self._second_ns

    def time_ns(self, when: object, body: dict[str, Any], now_ns: int) -> int:
        """The time of the entry `body` whose `time` is `when` (see `time_of`)."""
        if type(when) is str and len(when) == 30 and when[19] == "." and when[29] == "Z":
            head, fraction = when[:19], when[20:29]
            if fraction.isdigit():
                if head != self._second:
                    found = _utc_ns(head)
                    if found is None:
                        return time_of(body, now_ns)
                    self._second, self._second_ns = head, found
                return self._second_ns + int(fraction)
        return time_of(body, now_ns)


def _one_value(text: str) -> Any:
    """`text` decoded as JSON; ValueError if it is not one JSON value."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # leading white space, or no value at all
        return _decode(text)
    return value if end == len(text) else _decode(text)


def entry_of(line: RawLine, *, now_ns: int) -> Entry:
    """The entry of a raw line read from a json-file log; Invalid if it is not one (too long to
    be Docker's, or not its JSON)."""
    if line.cut:
        raise Invalid(f"a json-file line of {len(line.data) + line.cut} bytes is not Docker's")
    return decode_entry(line.data, now_ns=now_ns)
