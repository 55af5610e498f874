"""BuildKit's progress, as the engine streams it, turned into a readable build log.

With BuildKit the engine's build stream carries the progress as `moby.buildkit.trace` messages:
base64 of a protobuf `StatusResponse` (moby/buildkit's control API): vertexes (1: the steps,
each with digest 1, name 3, cached 4, started 5, completed 6, error 7) and logs (3: vertex 1,
msg 4, the output of a RUN). The wire format is decoded here (varints and length-delimited
fields are all these messages use), and `TraceLog` prints them as BuildKit's own plain
progress does:

    #5 [2/3] COPY www/ /www/
    #6 [3/3] RUN make
    #6 make: all is built
    #6 DONE 0.4s
    #7 CACHED

A message that cannot be decoded is skipped, never fatal: the log is for people, and the
engine's own error message still ends a failed build.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class _Malformed(ValueError):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field of one protobuf message, in order: an int for a
    varint, bytes for a length-delimited field (fixed-width fields are skipped). Pure."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == _VARINT:
            value, at = _varint(data, at)
            found.append((number, value))
        elif kind == _BYTES:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise _Malformed("truncated field")
            found.append((number, data[at : at + size]))
            at += size
        elif kind in (_FIXED64, _FIXED32):
            at += 8 if kind == _FIXED64 else 4
        else:
            raise _Malformed(f"wire type {kind}")
    return found


@dataclass(frozen=True)
class Vertex:
    digest: str
    name: str = ""
    cached: bool = False
    started: float | None = None
    completed: float | None = None
    error: str = ""


@dataclass(frozen=True)
class Output:
    vertex: str
    text: bytes


def _seconds(raw: bytes) -> float:
    """A google.protobuf.Timestamp (seconds 1, nanos 2) as seconds."""
    values = dict(fields(raw))
    seconds, nanos = values.get(1, 0), values.get(2, 0)
    return (seconds if isinstance(seconds, int) else 0) + (
        nanos / 1e9 if isinstance(nanos, int) else 0
    )


def _text(value: int | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else ""


def _vertex(raw: bytes) -> Vertex:
    digest, name, error = "", "", ""
    cached = False
    started = completed = None
    for number, value in fields(raw):
        if number == 1:
            digest = _text(value)
        elif number == 3:
            name = _text(value)
        elif number == 4:
            cached = bool(value)
        elif number == 5 and isinstance(value, bytes):
            started = _seconds(value)
        elif number == 6 and isinstance(value, bytes):
            completed = _seconds(value)
        elif number == 7:
            error = _text(value)
    return Vertex(digest, name, cached, started, completed, error)


def _output(raw: bytes) -> Output:
    values = {number: value for number, value in fields(raw) if number in (1, 4)}
    text = values.get(4, b"")
    return Output(_text(values.get(1, b"")), text if isinstance(text, bytes) else b"")


def decode(aux: str) -> tuple[list[Vertex], list[Output]]:
    """The vertexes and the outputs of one trace message (its base64 `aux`); empty if it
    cannot be decoded."""
    try:
        message = fields(base64.b64decode(aux, validate=True))
        vertexes = [_vertex(v) for n, v in message if n == 1 and isinstance(v, bytes)]
        outputs = [_output(v) for n, v in message if n == 3 and isinstance(v, bytes)]
    except (_Malformed, binascii.Error, ValueError):
        return [], []
    return vertexes, outputs


@dataclass
class _Shown:
    number: int
    started: bool = False
    ended: bool = False
    partial: str = ""


@dataclass
class TraceLog:
    """Turns trace messages into log lines, each state of each step once."""

    _shown: dict[str, _Shown] = field(default_factory=dict)

    def lines(self, aux: str) -> str:
        """The log text one trace message adds (maybe empty)."""
        vertexes, outputs = decode(aux)
        out: list[str] = []
        for vertex in vertexes:
            out.extend(self._vertex(vertex))
        for output in outputs:
            out.extend(self._output(output))
        return "".join(line + "\n" for line in out)

    def _step(self, digest: str) -> _Shown:
        if digest not in self._shown:
            self._shown[digest] = _Shown(number=len(self._shown) + 1)
        return self._shown[digest]

    def _vertex(self, vertex: Vertex) -> list[str]:
        if vertex.started is None and not vertex.cached and not vertex.error:
            return []  # known, not started: shown when it starts
        step = self._step(vertex.digest)
        out: list[str] = []
        if not step.started:
            step.started = True
            out.append(f"#{step.number} {vertex.name}")
        if step.ended:
            return out
        if vertex.error:
            out += self._flush(step)
            out.append(f"#{step.number} ERROR: {vertex.error}")
            step.ended = True
        elif vertex.cached:
            out.append(f"#{step.number} CACHED")
            step.ended = True
        elif vertex.completed is not None:
            out += self._flush(step)
            took = vertex.completed - (vertex.started or vertex.completed)
            out.append(f"#{step.number} DONE {max(took, 0.0):.1f}s")
            step.ended = True
        return out

    def _output(self, output: Output) -> list[str]:
        step = self._step(output.vertex)
        pieces = (step.partial + output.text.decode(errors="replace")).split("\n")
        step.partial = pieces.pop()
        return [f"#{step.number} {piece.rstrip()}" for piece in pieces]

    def _flush(self, step: _Shown) -> list[str]:
        partial, step.partial = step.partial, ""
        return [f"#{step.number} {partial.rstrip()}"] if partial.strip() else []
