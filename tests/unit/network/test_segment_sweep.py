"""The sweep of deleted segments, by table: an idle network of a segment absent from etcd for
the grace goes with its VLAN sub-interface, one with containers attached waits, a known
segment's is never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.agent.segment_sweep import Sweep, sweep
from dockyard.network.segment_networks import SegmentNetwork

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(minutes=5)
GRACE = timedelta(seconds=60)


def net(segment: str, *containers: str) -> SegmentNetwork:
    return SegmentNetwork(segment, f"dyseg-{segment}", containers)


@pytest.mark.parametrize(
    ("networks", "known", "labelled", "since", "expected"),
    [
        ([net("a"), net("b", "c1")], {"a", "b"}, set(), {}, Sweep()),
        (  # absent only since this pass: maybe made before its segment was published
            [net("a")],
            set(),
            set(),
            {},
            Sweep(absent_since={"a": NOW}),
        ),
        (
            [net("a")],
            set(),
            set(),
            {"a": NOW - GRACE},
            Sweep(remove=(net("a"),), unlink=("a",), absent_since={"a": NOW - GRACE}),
        ),
        (  # published meanwhile: forgotten
            [net("a")],
            {"a"},
            set(),
            {"a": LONG_AGO},
            Sweep(),
        ),
        (
            [net("a", "c1")],
            set(),
            set(),
            {"a": LONG_AGO},
            Sweep(wait=(net("a", "c1"),), absent_since={"a": LONG_AGO}),
        ),
        (  # its VLAN sub-interface waits with it
            [net("a", "c1", "c2")],
            {"b"},
            {"a", "b"},
            {"a": LONG_AGO},
            Sweep(wait=(net("a", "c1", "c2"),), absent_since={"a": LONG_AGO}),
        ),
        (  # a sub-interface left behind after its network went (the agent stopped between)
            [],
            {"b"},
            {"a", "b"},
            {"a": LONG_AGO},
            Sweep(unlink=("a",), absent_since={"a": LONG_AGO}),
        ),
        (
            [net("a"), net("b", "c1"), net("c"), net("d")],
            {"c"},
            set(),
            {"a": LONG_AGO, "b": LONG_AGO},
            Sweep(
                remove=(net("a"),),
                wait=(net("b", "c1"),),
                unlink=("a",),
                absent_since={"a": LONG_AGO, "b": LONG_AGO, "d": NOW},
            ),
        ),
    ],
)
def test_only_idle_networks_of_segments_absent_for_the_grace_go(
    networks: list[SegmentNetwork],
    known: set[str],
    labelled: set[str],
    since: dict[str, datetime],
    expected: Sweep,
) -> None:
    decided = sweep(
        networks, known=known, labelled=labelled, absent_since=since, now=NOW, grace=GRACE
    )
    assert decided == expected
