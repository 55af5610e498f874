"""Two segments created at the same moment: the second sees the first and is refused.

The interleaving is forced, not hoped for: the first create is held between its overlap check
and its insert until the second create has read the segments too, or for HOLD_S. Without the
segments' lock the second reads at once, both pass the check and both are written; with it the
second waits in `lock_segments` until the first commits (the hold ends by its timeout), then
reads the first's row and is refused. Both outcomes are certain, so the test cannot flake.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dockyard.domain.errors import Conflict
from dockyard.domain.segment import Segment
from dockyard.store import segments
from dockyard.store.db import Database
from dockyard.store.segments import SegmentRecord

from .store_support import ADMIN, START

HOLD_S = 0.5
WAIT_S = 20.0


def _segment(name: str, cidr: str) -> Segment:
    return Segment.parse(name=name, cidr=cidr, gateway=None, environments=["test"])


def _race(db: Database, monkeypatch: pytest.MonkeyPatch, pair: list[Segment]) -> list[Any]:
    """Create both segments in threads, the second starting once the first has checked."""
    first_checked, second_checked = threading.Event(), threading.Event()
    original = segments.list_segments

    def watched(session: Session) -> list[SegmentRecord]:
        found = original(session)
        if threading.current_thread().name == "first":
            first_checked.set()
            second_checked.wait(HOLD_S)
        else:
            second_checked.set()
        return found

    monkeypatch.setattr(segments, "list_segments", watched)
    outcomes: list[Any] = [None, None]

    def worker(index: int) -> None:
        if index == 1:
            first_checked.wait(WAIT_S)
        try:
            with db.session() as session:
                outcomes[index] = segments.create_segment(
                    session, ADMIN, segment=pair[index], now=START
                )
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc

    threads = [
        threading.Thread(target=worker, args=(i,), name=name, daemon=True)
        for i, name in enumerate(("first", "second"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    assert not any(t.is_alive() for t in threads), "a concurrent create never finished"
    monkeypatch.setattr(segments, "list_segments", original)
    return outcomes


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("second", "refusal"),
    [
        pytest.param(("b", "10.40.0.128/25"), "overlaps segment a (10.40.0.0/24)", id="overlap"),
        pytest.param(("a", "10.41.0.0/24"), "segment 'a' already exists", id="same-name"),
    ],
)
def test_of_two_clashing_segments_created_at_once_exactly_one_is_written(
    db: Database, monkeypatch: pytest.MonkeyPatch, second: tuple[str, str], refusal: str
) -> None:
    pair = [_segment("a", "10.40.0.0/24"), _segment(*second)]
    outcomes = _race(db, monkeypatch, pair)
    assert isinstance(outcomes[0], SegmentRecord), outcomes
    assert isinstance(outcomes[1], Conflict), outcomes
    assert refusal in outcomes[1].message
    with db.session() as session:
        listed = segments.list_segments(session)
    assert [(r.segment.name, str(r.segment.cidr)) for r in listed] == [("a", "10.40.0.0/24")]


@pytest.mark.timeout(60)
def test_segments_that_do_not_clash_are_both_created_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = [_segment("a", "10.40.0.0/24"), _segment("b", "10.41.0.0/24")]
    outcomes = _race(db, monkeypatch, pair)
    assert all(isinstance(o, SegmentRecord) for o in outcomes), outcomes
    with db.session() as session:
        assert [r.segment.name for r in segments.list_segments(session)] == ["a", "b"]
