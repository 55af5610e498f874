"""BuildKit's progress messages (protobuf, base64) decoded into log lines, each state of each
step once. The messages are made here with a small encoder of the same wire format."""

from __future__ import annotations

import base64

import pytest

from dockyard.images.buildkit_trace import TraceLog, decode, fields


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _time(seconds: int, nanos: int = 0) -> bytes:
    return _field(1, seconds) + _field(2, nanos)


def vertex(digest: str, name: str, **state: int | str | bytes) -> bytes:
    """A Vertex: cached 4, started 5, completed 6, error 7."""
    numbers = {"cached": 4, "started": 5, "completed": 6, "error": 7}
    body = _field(1, digest) + _field(3, name)
    for key, value in state.items():
        body += _field(numbers[key], value)
    return _field(1, body)


def output(digest: str, text: str) -> bytes:
    """A VertexLog: vertex 1, stream 3, msg 4."""
    return _field(3, _field(1, digest) + _field(3, 1) + _field(4, text))


def message(*parts: bytes) -> str:
    return base64.b64encode(b"".join(parts)).decode()


def test_the_wire_format_is_read_back() -> None:
    data = _field(1, "a") + _field(4, 1) + _field(5, _time(7)) + b"\x09" + b"\0" * 8
    assert fields(data) == [(1, b"a"), (4, 1), (5, _time(7))]  # a fixed64 field is skipped
    vertexes, outputs = decode(message(vertex("sha256:1", "[1/2] FROM x", cached=1)))
    assert vertexes[0].name == "[1/2] FROM x" and vertexes[0].cached and outputs == []


def test_a_build_reads_as_buildkits_plain_progress() -> None:
    trace = TraceLog()
    steps = [
        message(vertex("d1", "[1/3] FROM base")),  # known, not started: nothing yet
        message(vertex("d1", "[1/3] FROM base", started=_time(10), cached=1)),
        message(vertex("d2", "[2/3] RUN make", started=_time(10))),
        message(output("d2", "compiling a\ncompil"), output("d2", "ing b\nlinking")),
        message(vertex("d2", "[2/3] RUN make", started=_time(10), completed=_time(11, 5 * 10**8))),
        message(vertex("d2", "[2/3] RUN make", started=_time(10), completed=_time(11))),  # again
        message(vertex("d3", "[3/3] RUN false", started=_time(12))),
        message(output("d3", "half a line")),
        message(vertex("d3", "[3/3] RUN false", started=_time(12), error="exit code: 1")),
    ]
    assert "".join(trace.lines(step) for step in steps) == (
        "#1 [1/3] FROM base\n"
        "#1 CACHED\n"
        "#2 [2/3] RUN make\n"
        "#2 compiling a\n"
        "#2 compiling b\n"
        "#2 linking\n"
        "#2 DONE 1.5s\n"
        "#3 [3/3] RUN false\n"
        "#3 half a line\n"
        "#3 ERROR: exit code: 1\n"
    )


@pytest.mark.parametrize(
    "aux",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x0a\x05ab").decode(),  # a field longer than the message
        base64.b64encode(b"\x0f").decode(),  # wire type 7 does not exist
    ],
)
def test_what_cannot_be_decoded_adds_nothing(aux: str) -> None:
    assert TraceLog().lines(aux) == ""
