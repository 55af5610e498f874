"""The flood budget's token bucket, by tables over injected time, and its marker line."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.logs.budget import UNLIMITED, Bucket, Rate, is_marker, marker_text
from dockyard.logs.level import level_of

TEN = Rate(10, burst=20)


@pytest.mark.parametrize(
    ("steps", "passed"),
    [
        # (time, lines wanted) in order -> lines passed at each step
        ([(0.0, 5)], [5]),
        ([(0.0, 25)], [20]),  # a full bucket holds the burst, no more
        ([(0.0, 20), (0.0, 1)], [20, 0]),  # empty: nothing until time passes
        ([(0.0, 20), (0.5, 10)], [20, 5]),  # half a second at 10/s: 5 lines
        ([(0.0, 20), (1.0, 10), (2.0, 10)], [20, 10, 10]),  # at the rate: all pass
        ([(0.0, 20), (100.0, 50)], [20, 20]),  # refills to the burst, not past it
        ([(0.0, 20), (-5.0, 3)], [20, 0]),  # earlier lines (another source) refill nothing
        ([(0.0, 20), (0.05, 1), (0.1, 1)], [20, 0, 1]),  # fractions add up
    ],
)
def test_bucket_passes_at_most_rate_and_burst(
    steps: list[tuple[float, int]], passed: list[int]
) -> None:
    bucket = Bucket.full(TEN, 0.0)
    got = []
    for now, wanted in steps:
        n, bucket = bucket.take(TEN, wanted, now)
        got.append(n)
    assert got == passed


@pytest.mark.parametrize(
    ("rate", "capacity"), [(Rate(10), 50), (Rate(10, burst=3), 3), (Rate(1000), 5000)]
)
def test_burst_defaults_to_five_seconds(rate: Rate, capacity: int) -> None:
    assert rate.capacity == capacity


def test_unlimited_passes_everything() -> None:
    bucket = Bucket.full(UNLIMITED, 0.0)
    assert bucket.take(UNLIMITED, 10**9, 0.0)[0] == 10**9
    assert bucket.has_room(UNLIMITED, 0.0)


@pytest.mark.parametrize(("at", "room"), [(0.0, False), (0.09, False), (0.1, True)])
def test_a_drop_run_ends_once_one_line_would_pass(at: float, room: bool) -> None:
    _, empty = Bucket.full(TEN, 0.0).take(TEN, 20, 0.0)
    assert empty.has_room(TEN, at) is room


def test_negative_rates_are_refused() -> None:
    with pytest.raises(Invalid):
        Rate(-1)


@pytest.mark.parametrize(
    ("dropped", "text"),
    [
        (1204, "… 1,204 lines dropped by the rate limit …"),
        (1, "… 1 line dropped by the rate limit …"),
        (2_000_000, "… 2,000,000 lines dropped by the rate limit …"),
    ],
)
def test_marker_says_how_many_and_is_a_warning(dropped: int, text: str) -> None:
    assert marker_text(dropped) == text
    assert is_marker(text)
    assert level_of(text) == "warn"


@pytest.mark.parametrize(
    "text", ["1,204 lines dropped by the rate limit", "… hello …", "ERROR … x dropped by the rate"]
)
def test_other_lines_are_no_markers(text: str) -> None:
    assert not is_marker(text)
