"""The pure allocation decision, by tables: order, fixed addresses, reserved ranges, exhaustion."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.segment import Segment
from dockyard.network.ipam.allocator import (
    Pool,
    SegmentExhausted,
    again_first,
    check_requested,
    choose,
    usage,
)


def ip(text: str) -> IPv4Address:
    return IPv4Address(text)


def ips(*last_octets: int) -> frozenset[IPv4Address]:
    return frozenset(ip(f"10.0.0.{octet}") for octet in last_octets)


def pool(*, reserved: tuple[str, ...] = (), fixed: frozenset[IPv4Address] = frozenset()) -> Pool:
    segment = Segment.parse(
        name="s1", cidr="10.0.0.0/29", gateway="10.0.0.1", environments=["test"], reserved=reserved
    )
    return Pool(segment, fixed=fixed)


# /29: .0 network, .1 gateway, .2-.6 assignable, .7 broadcast
@pytest.mark.parametrize(
    ("used", "last", "wanted", "fixed", "reserved", "expected"),
    [
        (ips(), None, (), ips(), (), "10.0.0.2"),  # empty: the first host after the gateway
        (ips(2), ip("10.0.0.2"), (), ips(), (), "10.0.0.3"),  # after the last one given
        (ips(), ip("10.0.0.3"), (), ips(), (), "10.0.0.4"),  # .2 and .3 just freed: not reused
        (ips(2, 3), ip("10.0.0.6"), (), ips(), (), "10.0.0.4"),  # wraps round, skips used
        (ips(), None, (), ips(), ("10.0.0.2-10.0.0.4",), "10.0.0.5"),  # reserved is skipped
        (ips(), None, (), ips(2, 3), (), "10.0.0.4"),  # others' fixed addresses are skipped
        (ips(), ip("10.0.0.2"), ips(5, 6), ips(5, 6), (), "10.0.0.5"),  # own fixed first
        (ips(5), ip("10.0.0.2"), ips(5, 6), ips(5, 6), (), "10.0.0.6"),  # next own fixed
        (ips(5, 6), ip("10.0.0.2"), ips(5, 6), ips(5, 6), (), "10.0.0.3"),  # fixed all taken
        (ips(), ip("10.0.0.200"), (), ips(), (), "10.0.0.2"),  # a stale hint outside: start
    ],
)
def test_choose_picks_the_next_free_address(
    used: frozenset[IPv4Address],
    last: IPv4Address | None,
    wanted: frozenset[IPv4Address],
    fixed: frozenset[IPv4Address],
    reserved: tuple[str, ...],
    expected: str,
) -> None:
    chosen = choose(
        pool(reserved=reserved, fixed=fixed), used=used, last=last, wanted=sorted(wanted)
    )
    assert chosen == ip(expected)


@pytest.mark.parametrize(
    ("used", "fixed", "reserved", "message"),
    [
        (ips(2, 3, 4, 5, 6), ips(), (), r"segment s1 is exhausted \(5 of 5 used\)"),
        (ips(2, 3), ips(), ("10.0.0.4-10.0.0.6",), r"segment s1 is exhausted \(2 of 2 used\)"),
        (
            ips(2, 3, 4),
            ips(5, 6),
            (),
            r"segment s1 is exhausted \(3 of 5 used; 2 more are fixed for other services\)",
        ),
    ],
)
def test_a_full_segment_is_exhausted_with_its_counts(
    used: frozenset[IPv4Address],
    fixed: frozenset[IPv4Address],
    reserved: tuple[str, ...],
    message: str,
) -> None:
    with pytest.raises(SegmentExhausted, match=message):
        choose(pool(reserved=reserved, fixed=fixed), used=used, last=None)


@pytest.mark.parametrize(
    ("address", "wanted", "allowed"),
    [
        ("10.0.0.3", (), True),
        ("10.0.0.1", (), False),  # the gateway
        ("10.0.0.0", (), False),  # the network address
        ("10.0.0.7", (), False),  # broadcast
        ("10.0.0.9", (), False),  # outside
        ("10.0.0.4", (), False),  # reserved
        ("10.0.0.5", (), False),  # fixed for another service
        ("10.0.0.5", ("10.0.0.5",), True),  # fixed for this one
    ],
)
def test_an_address_asked_for_by_name_must_be_assignable_to_that_owner(
    address: str, wanted: tuple[str, ...], allowed: bool
) -> None:
    subject = pool(reserved=("10.0.0.4",), fixed=ips(5))
    wanted_ips = {ip(text) for text in wanted}
    if allowed:
        check_requested(subject, ip(address), wanted=wanted_ips)
    else:
        with pytest.raises(Invalid):
            check_requested(subject, ip(address), wanted=wanted_ips)


@pytest.mark.parametrize(
    ("cidr", "reserved", "used", "expected"),
    [
        # capacity, used, free, reserved (gateway + ranges), fixed
        ("10.0.0.0/29", (), ips(2, 3), (5, 2, 3, 1, 0)),
        ("10.0.0.0/29", ("10.0.0.1-10.0.0.3",), ips(4), (3, 1, 2, 3, 0)),  # gateway in a range
        ("10.0.0.0/29", ("10.0.0.2-10.0.0.3", "10.0.0.3-10.0.0.4"), ips(), (2, 0, 2, 4, 0)),
        ("10.0.0.0/24", (), ips(2, 99), (253, 2, 251, 1, 0)),
    ],
)
def test_usage_counts_each_address_once(
    cidr: str,
    reserved: tuple[str, ...],
    used: frozenset[IPv4Address],
    expected: tuple[int, int, int, int, int],
) -> None:
    segment = Segment.parse(
        name="s1", cidr=cidr, gateway=None, environments=["test"], reserved=reserved
    )
    found = usage(Pool(segment), used)
    assert (found.capacity, found.used, found.free, found.reserved, found.fixed) == expected


def test_round_robin_hands_out_every_address_once_before_reusing_any() -> None:
    subject = pool()
    used: set[IPv4Address] = set()
    last = None
    for _ in range(5):
        last = choose(subject, used=used, last=last)
        used.add(last)
    assert used == set(ips(2, 3, 4, 5, 6))
    used.discard(ip("10.0.0.3"))
    assert choose(subject, used=used, last=last) == ip("10.0.0.3")


# An instance started again asks first for the address it held before, where it still may.
@pytest.mark.parametrize(
    ("previous", "wanted", "fixed", "reserved", "expected"),
    [
        pytest.param(None, (), ips(), (), [], id="never-held-one"),
        pytest.param(ip("10.0.0.4"), (), ips(), (), ["10.0.0.4"], id="its-own-first"),
        pytest.param(
            ip("10.0.0.4"), (ip("10.0.0.5"),), ips(5), (), ["10.0.0.4", "10.0.0.5"],
            id="before-its-fixed-ones",
        ),
        pytest.param(
            ip("10.0.0.5"), (ip("10.0.0.5"),), ips(5), (), ["10.0.0.5"], id="a-fixed-one-once"
        ),
        pytest.param(ip("10.0.0.4"), (), ips(4), (), [], id="fixed-for-another-since"),
        pytest.param(ip("10.0.0.4"), (), ips(), ("10.0.0.4",), [], id="reserved-since"),
        pytest.param(ip("10.9.9.9"), (), ips(), (), [], id="outside-the-segment"),
    ],
)  # fmt: skip
def test_again_first_table(
    previous: IPv4Address | None,
    wanted: tuple[IPv4Address, ...],
    fixed: frozenset[IPv4Address],
    reserved: tuple[str, ...],
    expected: list[str],
) -> None:
    chosen = again_first(pool(reserved=reserved, fixed=fixed), previous, wanted)
    assert [str(address) for address in chosen] == expected


def test_a_previous_address_taken_meanwhile_is_skipped_by_choose() -> None:
    wanted = again_first(pool(), ip("10.0.0.4"), ())
    assert choose(pool(), used=ips(2, 4), last=ip("10.0.0.2"), wanted=wanted) == ip("10.0.0.3")
