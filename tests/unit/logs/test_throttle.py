"""A source's reads through its service's flood budget: lines over it are dropped and counted,
the lines shipped stay numbered without gaps, one marker line stands where a run of drops ended,
and the checkpoint carries the shipped numbering."""

from __future__ import annotations

import time

from dockyard.logs.budget import Rate
from dockyard.logs.checkpoint import Checkpoint
from dockyard.logs.raw import RawLines
from dockyard.logs.reader import Read
from dockyard.logs.record import Line
from dockyard.logs.throttle import Budgets, Throttle

S = 1_000_000_000  # ns


def read(first: int, count: int, *, at_s: float, offset: int = 0) -> Read:
    """`count` lines numbered from `first` (the reader's numbering), all written at `at_s`."""
    lines = [Line(first + i, int(at_s * S), "stdout", f"n={first + i}") for i in range(count)]
    last = first + count - 1 if count else first - 1
    return Read(lines, Checkpoint(inode=1, offset=offset + count, seq=last), at_end=True)


def shipped(r: Read) -> list[tuple[int, str]]:
    return [(ln.seq, ln.text) for ln in r.lines]


def test_unlimited_changes_nothing() -> None:
    throttle = Throttle(Budgets(), "t/s/test")
    given = read(1, 5, at_s=0)
    assert throttle.apply(given, now_ns=0) == (given, 0)


def test_drops_over_budget_then_marks_the_run_in_the_same_numbering() -> None:
    throttle = Throttle(Budgets(), "t/s/test", Rate(10, burst=4))
    first, dropped = throttle.apply(read(1, 6, at_s=0.0), now_ns=0)
    assert shipped(first) == [(1, "n=1"), (2, "n=2"), (3, "n=3"), (4, "n=4")]
    assert dropped == 2
    assert first.resume.seq == 4  # checkpointed past the dropped lines, at the last shipped
    # A second later 10 lines passed: the marker first, then the lines, numbered on.
    second, dropped = throttle.apply(read(7, 3, at_s=1.0), now_ns=S)
    assert dropped == 0
    assert shipped(second) == [
        (5, "… 2 lines dropped by the rate limit …"),
        (6, "n=7"),
        (7, "n=8"),
        (8, "n=9"),
    ]
    assert second.lines[0].time_ns == 0  # at the last dropped line's time
    assert second.resume.seq == 8


def test_a_marker_goes_alone_once_the_flood_stops() -> None:
    throttle = Throttle(Budgets(), "t/s/test", Rate(10, burst=2))
    throttle.apply(read(1, 5, at_s=0.0), now_ns=0)
    still, _ = throttle.apply(read(6, 0, at_s=0.0), now_ns=0)  # no room yet: nothing
    assert still.lines == []
    alone, _ = throttle.apply(read(6, 0, at_s=0.0), now_ns=S)
    assert shipped(alone) == [(3, "… 3 lines dropped by the rate limit …")]
    assert alone.resume.seq == 3


def test_a_whole_read_dropped_is_checkpointed_but_not_shipped() -> None:
    throttle = Throttle(Budgets(), "t/s/test", Rate(1, burst=1))
    throttle.apply(read(1, 1, at_s=0.0), now_ns=0)
    out, dropped = throttle.apply(read(2, 100, at_s=0.0, offset=1), now_ns=0)
    assert (out.lines, dropped) == ([], 100)
    assert out.resume.offset == 101  # past the dropped lines: the file is no buffer
    assert out.resume.seq == 1


def test_sources_of_one_service_share_its_budget_and_others_have_their_own() -> None:
    budgets = Budgets()
    console = Throttle(budgets, "t/s/test", Rate(10, burst=10))
    declared = Throttle(budgets, "t/s/test", Rate(10, burst=10))
    other = Throttle(budgets, "t/quiet/test", Rate(10, burst=10))
    assert len(console.apply(read(1, 8, at_s=0.0), now_ns=0)[0].lines) == 8
    assert len(declared.apply(read(1, 8, at_s=0.0), now_ns=0)[0].lines) == 2
    assert len(other.apply(read(1, 8, at_s=0.0), now_ns=0)[0].lines) == 8


def test_a_reopened_reader_numbers_from_the_checkpoint() -> None:
    throttle = Throttle(Budgets(), "t/s/test", Rate(10, burst=2))
    out, _ = throttle.apply(read(1, 5, at_s=0.0), now_ns=0)
    assert out.resume.seq == 2
    throttle.reopened()  # the reader starts again at seq 2 (shipped numbering)
    again, _ = throttle.apply(read(3, 1, at_s=10.0), now_ns=10 * S)
    assert shipped(again) == [(3, "… 3 lines dropped by the rate limit …"), (4, "n=3")]


def raw_read(first: int, count: int, *, at_s: float) -> Read:
    """`count` of Docker's whole lines read as they are, all written at `at_s`."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(at_s)))
    when = f"{stamp}.{int(at_s * S) % S:09d}Z"
    data = b"".join(
        f'{{"log":"n={first + i}\\n","stream":"stdout","time":"{when}"}}\n'.encode()
        for i in range(count)
    )
    resume = Checkpoint(inode=1, offset=len(data), seq=first + count - 1)
    return Read([], resume, at_end=True, raw=RawLines(first, count, data, read_ns=0))


def test_raw_lines_the_budget_holds_pass_as_they_are_and_draw_from_it() -> None:
    budgets = Budgets()
    throttle = Throttle(budgets, "t/s/test", Rate(10, burst=8))
    given = raw_read(1, 5, at_s=100.0)
    assert throttle.apply(given, now_ns=0) == (given, 0)
    assert not budgets.fits("t/s/test", Rate(10, burst=8), 4, 100.0)  # 3 left


def test_raw_lines_over_the_budget_are_judged_one_by_one() -> None:
    throttle = Throttle(Budgets(), "t/s/test", Rate(10, burst=4))
    out, dropped = throttle.apply(raw_read(1, 6, at_s=100.0), now_ns=0)
    assert out.raw is None and dropped == 2
    assert shipped(out) == [(1, "n=1"), (2, "n=2"), (3, "n=3"), (4, "n=4")]
    assert out.lines[0].time_ns == 100 * S
    # The next raw read, though the budget holds it, is numbered again after a marker.
    later, _ = throttle.apply(raw_read(7, 2, at_s=101.0), now_ns=0)
    assert later.raw is None
    assert shipped(later) == [(5, "… 2 lines dropped by the rate limit …"), (6, "n=7"), (7, "n=8")]
    assert later.resume.seq == 7
