"""Build logs as log-center lines: the image center keeps each build's log as one growing text
(store/builds.py); here that text becomes the numbered Lines and Batches of a source of its own.

A build's source is team and service of the build, the pseudo-environment `build` and the
instance `build-NUMBER-ID` (the build's number, as users know it, and its database id, which
no other build shares, not even one of a service deleted and made again under the same name).
Lines are numbered by their place in the log, so whoever cuts the same text again (a restarted
server, another server) numbers every line the same way, and consumers drop the repeats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.logs.cut import decode, head, marker
from dockyard.logs.record import BUILD_ENV, Batch, Line, Source

BUILD_CHANNEL = "build"
BUILD_STREAM = "stdout"
"""A build's log is one text (the engine's output and Dockyard's own `==>` lines)."""
MAX_BATCH_LINES = 1000
MAX_BATCH_BYTES = 256 * 1024
"""Well under NATS's default 1 MiB message limit, whatever the lines hold."""

_INSTANCE = re.compile(r"^build-([1-9][0-9]*)-([1-9][0-9]*)$")


@dataclass(frozen=True)
class Shipped:
    """How far a build's log has reached the stream: its first `offset` characters, as lines
    1..`seq`."""

    offset: int = 0
    seq: int = 0


def build_instance(number: int, build_id: int) -> str:
    """The instance token of build `number` (database id `build_id`) in subjects and searches."""
    return f"build-{number}-{build_id}"


def build_number(instance: str) -> int | None:
    """The build number in a build's instance token; None if `instance` is not one."""
    found = _INSTANCE.match(instance)
    return int(found.group(1)) if found else None


def build_source(*, team: str, service: str, number: int, build_id: int) -> Source:
    return Source(team, service, BUILD_ENV, build_instance(number, build_id), BUILD_CHANNEL)


def complete_lines(text: str, *, done: bool) -> tuple[list[str], int]:
    """The lines at the start of `text` that are complete (newline-terminated, or the rest too
    when the build is `done`: nothing more will be added to it), without their newlines, and
    how many characters of `text` they take."""
    end = len(text) if done else text.rfind("\n") + 1
    body = text[:end]
    pieces = body.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()  # the newline ended the last line; it does not start another
    return pieces, end


def shown(raw: str) -> str:
    """What a terminal shows of `raw`: the text after its last carriage return (progress
    counters rewrite their line), without trailing white space."""
    return raw.rstrip().rsplit("\r", 1)[-1].rstrip()


def to_batches(
    source: Source,
    text: str,
    shipped: Shipped,
    *,
    done: bool,
    time_ns: int,
    max_line_bytes: int,
) -> tuple[list[Batch], Shipped]:
    """The lines of `text` (the log from `shipped.offset` on) as batches numbered on from
    `shipped.seq`, and where the log stands once the stream stored them all. Blank lines are
    left out; a line longer than `max_line_bytes` is cut and says how much it lost."""
    pieces, used = complete_lines(text, done=done)
    lines: list[Line] = []
    seq = shipped.seq
    for raw in pieces:
        line = shown(raw)
        if not line:
            continue
        seq += 1
        lines.append(_line(seq, time_ns, line, max_line_bytes))
    return _grouped(source, lines), Shipped(shipped.offset + used, seq)


def _line(seq: int, time_ns: int, text: str, max_line_bytes: int) -> Line:
    data = text.encode()
    if len(data) <= max_line_bytes:
        return Line(seq, time_ns, BUILD_STREAM, text)
    kept = head(data, max_line_bytes)
    cut = len(data) - len(kept)
    return Line(seq, time_ns, BUILD_STREAM, decode(kept) + marker(cut), cut)


def _grouped(source: Source, lines: list[Line]) -> list[Batch]:
    batches: list[Batch] = []
    group: list[Line] = []
    size = 0
    for line in lines:
        weight = len(line.text.encode()) + 64  # the line's other fields, in JSON
        if group and (len(group) >= MAX_BATCH_LINES or size + weight > MAX_BATCH_BYTES):
            batches.append(Batch(source, tuple(group)))
            group, size = [], 0
        group.append(line)
        size += weight
    if group:
        batches.append(Batch(source, tuple(group)))
    return batches
