"""Words for the pusher: lines added to a push's answer, shown by git as `remote: ...`.

receive-pack's answer over smart HTTP is a stream of pkt-lines; with the `side-band-64k`
capability (every `git push` asks for it) each carries a band byte (1: the report, 2: progress
and messages) and the stream ends with a flush packet `0000`. `PushTail` passes the answer
through unchanged but for its last four bytes, held back until the push's outcome is known;
if they are that flush and the answer is multiplexed, messages go on band 2 just before it.
Otherwise (no side band, an error answer) the answer is passed on exactly as it was.
"""

from __future__ import annotations

FLUSH = b"0000"
MAX_PAYLOAD = 65516  # 65520, git's largest packet, less the 4-byte length
_BANDS = (1, 2, 3)
_HEX = b"0123456789abcdefABCDEF"


def pkt_line(payload: bytes) -> bytes:
    """One pkt-line: 4 hex digits of length (counting themselves), then the payload."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("a pkt-line payload is at most 65516 bytes")
    return f"{len(payload) + 4:04x}".encode() + payload


def progress(message: str) -> bytes:
    """`message` as a band-2 packet (git prints it as `remote: message`)."""
    data = message.encode("utf-8", "replace")[: MAX_PAYLOAD - 2]
    return pkt_line(b"\x02" + data + b"\n")


class PushTail:
    """Holds back the end of a receive-pack answer so messages can be added before it.

    Packet boundaries are followed as the answer streams by, so only a flush packet of its
    own counts as the end (not four zeros inside a packet)."""

    def __init__(self) -> None:
        self._held = b""
        self._header = b""  # the length digits of the packet being read, while incomplete
        self._left = 0  # payload bytes of the current packet not yet seen
        self._first: int | None = None  # the first payload byte of the first packet
        self._ends_in_flush = False
        self._broken = False  # not pkt-lines after all: pass it on, add nothing

    def feed(self, chunk: bytes) -> bytes:
        """What may be sent of the answer so far (all but its last four bytes)."""
        self._walk(chunk)
        data = self._held + chunk
        self._held = data[-4:]
        return data[:-4]

    def end(self, messages: list[str]) -> bytes:
        """The rest of the answer, with `messages` added when the answer allows it."""
        complete = not self._broken and not self._header and self._left == 0
        if messages and complete and self._ends_in_flush and self._first in _BANDS:
            return b"".join(progress(message) for message in messages) + FLUSH
        return self._held

    def _walk(self, chunk: bytes) -> None:
        at = 0
        while at < len(chunk) and not self._broken:
            if self._left:
                if self._first is None:
                    self._first = chunk[at]
                step = min(self._left, len(chunk) - at)
                self._left -= step
                at += step
                continue
            step = min(4 - len(self._header), len(chunk) - at)
            self._header += chunk[at : at + step]
            at += step
            if len(self._header) == 4:
                self._packet(self._header)
                self._header = b""

    def _packet(self, header: bytes) -> None:
        if not all(digit in _HEX for digit in header):
            self._broken = True
            return
        size = int(header, 16)
        if size == 0 and self._first is None:
            self._first = -1  # an answer opening with a flush carries no band
        self._ends_in_flush = size == 0
        if size > 4:
            self._left = size - 4
        elif size != 0:
            self._broken = True  # delimiter packets do not occur in a push's answer
