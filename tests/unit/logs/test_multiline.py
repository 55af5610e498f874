"""Multi-line joining by a start-of-record rule, bounded in size and wait. Pure: the time is
passed in."""

from __future__ import annotations

import re

import pytest

from dockyard.logs.framing import Record
from dockyard.logs.multiline import Multiline, MultilineRule

RULE = MultilineRule(re.compile(r"\d{4}-"), max_bytes=40, max_wait_s=1.0)


def rec(text: str, end: int, stream: str = "stdout") -> Record:
    return Record(end, stream, text, 0, 3, end)


# (name, [(text, stream, arrival time)], flush at the end?, [(text, end)] out)
CASES: list[tuple[str, list[tuple[str, str, float]], bool, list[tuple[str, int]]]] = [
    (
        "a trace joins the line that started it",
        [
            ("2026- boom", "stdout", 0),
            ("  at a()", "stdout", 0),
            ("  at b()", "stdout", 0),
            ("2026- next", "stdout", 0),
        ],
        False,
        [("2026- boom\n  at a()\n  at b()", 3)],
    ),
    (
        "the held record waits for what comes next",
        [("2026- one", "stdout", 0)],
        False,
        [],
    ),
    (
        "a source that ends flushes the held record",
        [("2026- one", "stdout", 0), ("  more", "stdout", 0)],
        True,
        [("2026- one\n  more", 2)],
    ),
    (
        "a record waits at most max_wait_s after its first line",
        [("2026- one", "stdout", 0), ("  more", "stdout", 0.5), ("  late", "stdout", 1.2)],
        False,
        [("2026- one\n  more", 2)],
    ),
    (
        "past max_bytes the rest starts a record of its own, nothing dropped",
        [("2026- " + "a" * 20, "stdout", 0), ("b" * 15, "stdout", 0), ("c" * 5, "stdout", 0)],
        True,
        [("2026- " + "a" * 20, 1), ("b" * 15 + "\n" + "c" * 5, 3)],
    ),
    (
        "a line of the other stream ends the record",
        [("2026- one", "stdout", 0), ("  oops", "stderr", 0)],
        True,
        [("2026- one", 1), ("  oops", 2)],
    ),
    (
        "lines before any start are records of their own until a start",
        [("junk", "stdout", 0), ("more junk", "stdout", 0), ("2026- x", "stdout", 0)],
        False,
        [("junk\nmore junk", 2)],
    ),
]


@pytest.mark.parametrize(
    ("lines", "flush", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_multiline(
    lines: list[tuple[str, str, float]], flush: bool, want: list[tuple[str, int]]
) -> None:  # fmt: skip
    joiner = Multiline(RULE)
    out: list[Record] = []
    for end, (text, stream, now) in enumerate(lines, start=1):
        out.extend(joiner.add(rec(text, end, stream), now=now))
    if flush:
        out.extend(joiner.flush())
    assert [(r.text, r.end) for r in out] == want


def test_due_flushes_a_waiting_record_without_a_new_line() -> None:
    joiner = Multiline(RULE)
    joiner.add(rec("2026- one", 1), now=10.0)
    assert joiner.due(now=10.5) == []
    assert [r.text for r in joiner.due(now=11.0)] == ["2026- one"]
    assert not joiner.holding


def test_joined_record_keeps_first_time_and_sums_cuts() -> None:
    joiner = Multiline(RULE)
    joiner.add(Record(5, "stdout", "2026- a", 3, 1, 10), now=0)
    joiner.add(Record(9, "stdout", " b", 4, 2, 20), now=0)
    (record,) = joiner.flush()
    assert (record.time_ns, record.cut, record.inode, record.end) == (5, 7, 2, 20)
