"""Which batches a consumer takes: each source's lines in order, a batch after a gap put back
until the gap fills or has waited too long (then taken, the gap counted)."""

from __future__ import annotations

import pytest

from dockyard.domain.environment import Environment
from dockyard.logs.admission import Waiting, admit
from dockyard.logs.record import Batch, Line, Source

A = Source("shop", "web", Environment.TEST, "a")
B = Source("shop", "web", Environment.TEST, "b")


def b(source: Source, first: int, last: int) -> Batch:
    return Batch(source, tuple(Line(s, s, "stdout", "x") for s in range(first, last + 1)))


@pytest.mark.parametrize(
    ("held", "offered", "take", "hold"),
    [
        ({}, [b(A, 1, 10)], (0,), ()),
        ({A.key: 10}, [b(A, 11, 20), b(A, 21, 30)], (0, 1), ()),
        ({A.key: 10}, [b(A, 5, 15)], (0,), ()),  # overlaps what is held: the index skips those
        ({A.key: 10}, [b(A, 1, 10)], (0,), ()),  # all held already: a duplicate, taken and skipped
        ({A.key: 10}, [b(A, 21, 30)], (), (0,)),  # 11..20 still out
        ({A.key: 10}, [b(A, 21, 30), b(A, 11, 20)], (1,), (0,)),  # offered out of order
        ({A.key: 10}, [b(A, 11, 20), b(A, 31, 40), b(A, 21, 30)], (0, 2), (1,)),
        ({A.key: 10, B.key: 5}, [b(B, 9, 9), b(A, 11, 11)], (1,), (0,)),  # sources apart
        ({}, [b(A, 2, 3)], (), (0,)),  # even a first batch waits for line 1
    ],
)
def test_a_batch_is_taken_only_in_order_of_its_source(
    held: dict[str, int], offered: list[Batch], take: tuple[int, ...], hold: tuple[int, ...]
) -> None:
    decided = admit(offered, held=lambda k: held.get(k, 0), waiting=Waiting(), now=0, gap_wait_s=90)
    assert (decided.take, decided.hold, decided.gaps) == (take, hold, ())


def test_a_gap_that_never_fills_is_accepted_after_the_wait_and_counted() -> None:
    waiting = Waiting()
    later = [b(A, 21, 30)]
    first = admit(later, held=lambda _: 10, waiting=waiting, now=100, gap_wait_s=90)
    assert first.hold == (0,) and waiting.since == {A.key: 100}
    still = admit(later, held=lambda _: 10, waiting=waiting, now=189, gap_wait_s=90)
    assert still.hold == (0,)
    given_up = admit(later, held=lambda _: 10, waiting=waiting, now=190, gap_wait_s=90)
    assert given_up.take == (0,) and given_up.gaps == ((A.key, 11, 20),)
    assert waiting.since == {}


def test_a_gap_that_fills_forgets_its_wait() -> None:
    waiting = Waiting()
    admit([b(A, 21, 30)], held=lambda _: 10, waiting=waiting, now=0, gap_wait_s=90)
    filled = admit(
        [b(A, 11, 20), b(A, 21, 30)], held=lambda _: 10, waiting=waiting, now=5, gap_wait_s=90
    )
    assert filled.take == (0, 1) and waiting.since == {}
