"""A source's reads through its service's flood budget: lines over it are dropped and counted,
the lines shipped stay numbered without gaps, one marker line stands where a run of drops ended,
and the checkpoint carries the shipped numbering."""

from __future__ import annotations

from dockyard.logs.budget import Rate
from dockyard.logs.checkpoint import Checkpoint
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
