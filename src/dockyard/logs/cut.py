"""The cut of an overlong record: sources keep at most a line limit of a record's bytes, count
the rest, and say at the end of the text how much was dropped.

Memory stays bounded whatever a process writes: a record of gigabytes without a newline costs
the agent the limit and a counter, never more.
"""

from __future__ import annotations

MARKER = "… [cut {} bytes]"


def marker(cut: int) -> str:
    """What ends the text of a record that lost `cut` bytes."""
    return MARKER.format(cut)


def decode(data: bytes) -> str:
    """Text of `data`; invalid UTF-8 becomes U+FFFD (never an error)."""
    return data.decode("utf-8", "replace")


def head(data: bytes, limit: int) -> bytes:
    """At most `limit` bytes of `data`, never ending inside a UTF-8 character."""
    if len(data) <= limit:
        return data
    end = limit
    # Step back over continuation bytes (10xxxxxx) to the start of the character cut in two.
    while end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]


class Bounded:
    """Bytes of one record as they arrive, at most `limit` kept; the rest only counted."""

    __slots__ = ("_limit", "_parts", "_size", "cut")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self.cut = 0

    @property
    def empty(self) -> bool:
        return self._size == 0 and self.cut == 0

    @property
    def size(self) -> int:
        """Bytes seen so far, kept or cut."""
        return self._size + self.cut

    def add(self, data: bytes) -> None:
        room = self._limit - self._size
        if len(data) <= room:
            self._parts.append(data)
            self._size += len(data)
            return
        kept = head(data, room) if room > 0 else b""
        if kept:
            self._parts.append(kept)
            self._size += len(kept)
            # No more room: later bytes are only counted, so a character cut at the edge stays out.
            self._limit = self._size
        self.cut += len(data) - len(kept)

    def kept(self) -> bytes:
        return b"".join(self._parts)

    def text(self) -> str:
        """The kept bytes as text, with the cut marker at the end if anything was dropped."""
        body = decode(b"".join(self._parts))
        return body + marker(self.cut) if self.cut else body
