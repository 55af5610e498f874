"""Which addresses of other hosts are freed because their agent is gone, by table: never those
of a host whose liveness key exists, nor of one that never registered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest

from dockyard.network.ipam.collector import HostVerdict, judge_hosts
from dockyard.network.ipam.records import Holder, Lease

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=10)
LONG_AGO = NOW - timedelta(days=400)


def lease(address: str, *, host: str, kind: str = "docker") -> Lease:
    holder = Holder(host=host, claim="c", since=LONG_AGO, kind=kind, container="c1")
    return Lease("s1", IPv4Address(address), holder, revision=7, created_revision=7)


@pytest.mark.parametrize(
    ("held", "alive", "registered", "absent_for", "freed"),
    [
        # alive: kept, however old its records and whatever we thought before
        (lease("10.0.0.2", host="h2"), {"h1", "h2"}, {"h1", "h2"}, 86400, False),
        # absent, but for less than the grace period
        (lease("10.0.0.2", host="h2"), {"h1"}, {"h1", "h2"}, 599, False),
        # absent for the whole grace period: freed
        (lease("10.0.0.2", host="h2"), {"h1"}, {"h1", "h2"}, 600, True),
        # never registered (an agent from before liveness, or an unreadable holder): kept
        (lease("10.0.0.2", host="h3"), {"h1"}, {"h1", "h2"}, 86400, False),
        (lease("10.0.0.2", host="unknown"), {"h1"}, {"h1"}, 86400, False),
        # the CNI plugin's and manual addresses are judged elsewhere
        (lease("10.0.0.2", host="h2", kind="cni"), {"h1"}, {"h1", "h2"}, 86400, False),
        (lease("10.0.0.2", host="h2", kind="manual"), {"h1"}, {"h1", "h2"}, 86400, False),
        # our own addresses are judged by `judge`, against our endpoints
        (lease("10.0.0.2", host="h1"), {"h2"}, {"h1", "h2"}, 86400, False),
        # our own key is missing: we may be the one cut off from etcd, so we judge nobody
        (lease("10.0.0.2", host="h2"), set(), {"h1", "h2"}, 86400, False),
    ],
)
def test_only_a_registered_host_absent_for_the_grace_period_loses_its_addresses(
    held: Lease, alive: set[str], registered: set[str], absent_for: int, freed: bool
) -> None:
    verdict = judge_hosts(
        [held],
        alive=alive,
        registered=registered,
        me="h1",
        absent_since={held.holder.host: NOW - timedelta(seconds=absent_for)},
        now=NOW,
        grace=GRACE,
    )
    assert verdict.release == ([held] if freed else [])


def test_absence_is_counted_from_the_first_sighting_and_forgotten_when_the_host_returns() -> None:
    held = [lease("10.0.0.2", host="h2"), lease("10.0.0.3", host="h2")]

    def judge(alive: set[str], absent_since: dict[str, datetime], now: datetime) -> HostVerdict:
        return judge_hosts(
            held,
            alive=alive,
            registered={"h1", "h2"},
            me="h1",
            absent_since=absent_since,
            now=now,
            grace=GRACE,
        )

    first = judge({"h1"}, {}, NOW)
    assert first.newly_absent == ["h2"] and first.absent_since == {"h2": NOW}
    assert first.release == []
    second = judge({"h1"}, first.absent_since, NOW + GRACE)
    assert second.newly_absent == [] and second.release == held
    back = judge({"h1", "h2"}, second.absent_since, NOW + GRACE)
    assert back.release == [] and back.absent_since == {}


def test_a_collector_that_restarts_counts_again_from_zero() -> None:
    held = [lease("10.0.0.2", host="h2")]
    verdict = judge_hosts(
        held,
        alive={"h1"},
        registered={"h1", "h2"},
        me="h1",
        absent_since={},  # a new process remembers nothing, whatever etcd says
        now=NOW,
        grace=GRACE,
    )
    assert verdict.release == [] and verdict.absent_since == {"h2": NOW}
