"""Which held addresses the agent frees, by table: never a live one (Calico #5044)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import pytest

from dockyard.network.ipam.collector import Endpoint, judge
from dockyard.network.ipam.records import Holder, Lease

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)


def lease(address: str, *, container: str | None, host: str = "h1", kind: str = "docker") -> Lease:
    holder = Holder(host=host, claim="c", since=NOW, kind=kind, container=container)
    return Lease("s1", IPv4Address(address), holder, revision=7, created_revision=7)


def endpoint(container: str, address: str) -> Endpoint:
    return Endpoint(container, IPv4Address(address), "02:00:00:00:00:01")


@pytest.mark.parametrize(
    ("held", "endpoints", "missing_for", "released", "bound"),
    [
        # the container holds its address: kept, whatever the time
        (lease("10.0.0.2", container="c1"), [endpoint("c1", "10.0.0.2")], 3600, False, None),
        # the record names no container, but an endpoint has the address: kept and bound
        (lease("10.0.0.2", container=None), [endpoint("c9", "10.0.0.2")], 3600, False, "c9"),
        # the record names another container (stale), an endpoint has it: kept (Calico #5044)
        (lease("10.0.0.2", container="old"), [endpoint("c9", "10.0.0.2")], 3600, False, "c9"),
        # its container is here with another address (being reconnected): kept
        (lease("10.0.0.2", container="c1"), [endpoint("c1", "10.0.0.3")], 3600, False, None),
        # nobody: released only after the grace period
        (lease("10.0.0.2", container="c1"), [], 59, False, None),
        (lease("10.0.0.2", container="c1"), [], 60, True, None),
        # another host's or the CNI plugin's addresses are not this agent's to judge
        (lease("10.0.0.2", container="c1", host="h2"), [], 3600, False, None),
        (lease("10.0.0.2", container="c1", kind="cni"), [], 3600, False, None),
    ],
)
def test_an_address_is_released_only_when_nothing_uses_it_for_the_grace_period(
    held: Lease, endpoints: list[Endpoint], missing_for: int, released: bool, bound: str | None
) -> None:
    key = (held.segment, held.address, held.revision)
    verdict = judge(
        [held],
        endpoints,
        host="h1",
        missing_since={key: NOW - timedelta(seconds=missing_for)},
        now=NOW,
        grace=GRACE,
    )
    assert (held in verdict.release) == released
    assert verdict.bind == ([(held, bound)] if bound else [])


def test_the_grace_period_starts_when_the_address_is_first_seen_unused() -> None:
    held = lease("10.0.0.2", container="c1")
    first = judge([held], [], host="h1", missing_since={}, now=NOW, grace=GRACE)
    assert first.release == [] and list(first.missing_since.values()) == [NOW]
    later = judge(
        [held], [], host="h1", missing_since=first.missing_since, now=NOW + GRACE, grace=GRACE
    )
    assert later.release == [held]


def test_a_reallocated_address_starts_a_new_grace_period() -> None:
    old = lease("10.0.0.2", container="c1")
    new = Lease("s1", old.address, old.holder, revision=9, created_revision=9)
    missing = {(old.segment, old.address, old.revision): NOW - timedelta(hours=1)}
    verdict = judge([new], [], host="h1", missing_since=missing, now=NOW, grace=GRACE)
    assert verdict.release == []


def test_an_address_seen_again_forgets_its_missing_time() -> None:
    held = lease("10.0.0.2", container="c1")
    missing = {(held.segment, held.address, held.revision): NOW - timedelta(seconds=30)}
    back = judge(
        [held], [endpoint("c1", "10.0.0.2")], host="h1", missing_since=missing, now=NOW, grace=GRACE
    )
    assert back.missing_since == {}


@pytest.mark.parametrize(
    ("held", "unheld_for", "adopted", "duplicate"),
    [
        # held by the container's own record: nothing to do
        ([lease("10.0.0.2", container="c1")], None, False, False),
        # nobody holds it: held again only once unheld for the whole grace period
        ([], None, False, False),
        ([], 59, False, False),
        ([], 60, True, False),
        # another host holds the address this container uses: a duplicate, never taken
        ([lease("10.0.0.2", container="x", host="h2")], 3600, False, True),
        ([lease("10.0.0.2", container="x", host="h2", kind="cni")], 3600, False, True),
    ],
)
def test_an_address_used_here_without_a_holder_is_held_again_after_the_grace_period(
    held: list[Lease], unheld_for: int | None, adopted: bool, duplicate: bool
) -> None:
    used = endpoint("c1", "10.0.0.2")
    since = (
        {} if unheld_for is None else {("s1", used.address): NOW - timedelta(seconds=unheld_for)}
    )
    verdict = judge(
        held,
        [used],
        host="h1",
        missing_since={},
        now=NOW,
        grace=GRACE,
        segment="s1",
        unheld_since=since,
    )
    assert verdict.adopt == ([used] if adopted else [])
    assert [pair[0] for pair in verdict.duplicates] == ([used] if duplicate else [])
    assert verdict.release == [] and verdict.bind == []
    if not held:
        assert ("s1", used.address) in verdict.unheld_since  # counted on, until held again
