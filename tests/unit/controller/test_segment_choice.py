"""Which segment a new instance joins: the order, the spill-over, and the reason to wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.controller.segment_choice import (
    Candidate,
    SegmentChoice,
    candidates,
    how_full,
    order,
)
from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError, Exhausted, RuntimeFailure
from dockyard.domain.segment import Segment

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TEST = Environment.TEST


def seg(name: str, cidr: str = "10.9.0.0/24", env: str = "test") -> Segment:
    return Segment.parse(name=name, cidr=cidr, gateway=None, environments=[env])


def full(name: str, used: int, capacity: int) -> Exhausted:
    return Exhausted(
        f"start pay-web-1: IPAM: segment {name} is exhausted ({used} of {capacity} used): "
        "scale something down"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param([("b", 0, False), ("a", 1, False)], ["b", "a"], id="oldest-first"),
        pytest.param([("b", 0, False), ("a", 0, False)], ["a", "b"], id="same-age-by-name"),
        pytest.param(
            [("a", 0, False), ("b", 5, True), ("c", 1, False)], ["b", "a", "c"], id="fixed-first"
        ),
        pytest.param(
            [("z", 3, True), ("y", 2, True), ("a", 0, False)], ["y", "z", "a"], id="fixed-by-age"
        ),
        pytest.param([], [], id="none"),
    ],
)
def test_segments_are_tried_fixed_addresses_first_then_oldest_then_by_name(
    given: list[tuple[str, int, bool]], expected: list[str]
) -> None:
    found = [Candidate(seg(n), T0 + timedelta(minutes=m), fixed=f) for n, m, f in given]
    assert [s.name for s in order(found)] == expected
    assert [s.name for s in order(reversed(found))] == expected, "order depends on input order"


def test_candidates_are_the_segments_serving_the_environment_marked_if_fixed() -> None:
    listed = [
        (seg("a"), T0),
        (seg("b", "10.8.0.0/24"), T0),
        (seg("on", "10.7.0.0/24", env="online"), T0),
    ]
    found = candidates(listed, env=TEST, fixed_in={"b", "on"})
    assert [(c.segment.name, c.fixed) for c in found] == [("a", False), ("b", True)]


@pytest.mark.parametrize(
    ("refused", "picked"),
    [
        pytest.param({}, "a", id="first-with-room"),
        pytest.param({"a": full("a", 6, 6)}, "b", id="spills-to-next"),
        pytest.param({"b": full("b", 6, 6)}, "a", id="a-later-full-one-is-skipped-only"),
        pytest.param({"a": full("a", 6, 6), "b": full("b", 9, 9)}, "c", id="to-the-last"),
        pytest.param(
            {"a": full("a", 6, 6), "b": full("b", 9, 9), "c": full("c", 1, 1)}, None, id="all-full"
        ),
    ],
)
def test_pick_takes_the_first_segment_not_refused_in_this_pass(
    refused: dict[str, DockyardError], picked: str | None
) -> None:
    segments = (seg("a"), seg("b", "10.8.0.0/24"), seg("c", "10.7.0.0/24"))
    choice = SegmentChoice(TEST, segments)
    for segment in segments:
        if segment.name in refused:
            choice.refuse(segment, refused[segment.name])
    found = choice.pick()
    assert (found.name if found else None) == picked


def test_when_every_segment_is_full_the_reason_names_each_with_how_full() -> None:
    a, b = seg("a"), seg("b", "10.8.0.0/24")
    choice = SegmentChoice(TEST, (a, b))
    choice.refuse(b, full("b", 14, 14))
    choice.refuse(a, full("a", 6, 6))
    choice.refuse(a, full("a", 5, 6))  # a later refusal does not replace the first
    error = choice.give_up()
    assert isinstance(error, Exhausted)
    assert error.message.startswith(
        "all 2 segments serving test are exhausted: a (6 of 6 used), b (14 of 14 used): "
    )
    assert "add a segment for test" in error.message


def test_one_full_segment_waits_with_the_drivers_own_words() -> None:
    a = seg("a")
    choice = SegmentChoice(TEST, (a,))
    choice.refuse(a, full("a", 6, 6))
    error = choice.give_up()
    assert isinstance(error, Exhausted) and "segment a is exhausted (6 of 6 used)" in error.message


@pytest.mark.parametrize(
    ("b_error", "kind"),
    [
        pytest.param(full("b", 3, 3), Exhausted, id="full-and-full"),
        pytest.param(RuntimeFailure("no 802.1Q"), Exhausted, id="full-and-refused-waits"),
    ],
)
def test_a_mix_of_full_and_refused_segments_waits_while_any_was_only_full(
    b_error: DockyardError, kind: type[DockyardError]
) -> None:
    a, b = seg("a"), seg("b", "10.8.0.0/24")
    choice = SegmentChoice(TEST, (a, b))
    choice.refuse(a, full("a", 6, 6))
    choice.refuse(b, b_error)
    assert type(choice.give_up()) is kind


def test_segments_that_all_refuse_for_other_reasons_fail_naming_each() -> None:
    a, b = seg("a"), seg("b", "10.8.0.0/24")
    choice = SegmentChoice(TEST, (a, b))
    choice.refuse(a, RuntimeFailure("VLAN 42 needs 802.1Q"))
    choice.refuse(b, RuntimeFailure("engine refused the network"))
    error = choice.give_up()
    assert isinstance(error, RuntimeFailure) and not isinstance(error, Exhausted)
    assert error.message == (
        "no segment serving test can take a new instance: a (VLAN 42 needs 802.1Q), "
        "b (engine refused the network)"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("x: segment a is exhausted (6 of 6 used): scale down", "6 of 6 used"),
        (
            "segment a is exhausted (4 of 6 used; 2 more are fixed for other services): y",
            "4 of 6 used; 2 more are fixed for other services",
        ),
        ("no free address", "no free address"),
    ],
)
def test_how_full_reads_the_count_out_of_the_drivers_message(message: str, expected: str) -> None:
    assert how_full(message) == expected
