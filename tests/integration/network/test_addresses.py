"""The IPAM etcd adapter against a real etcd: no duplicates, exact release, history, outages."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from dockyard.domain.errors import Conflict, Unavailable
from dockyard.domain.segment import Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Keys, Pool, SegmentExhausted
from tests.support.etcd import EtcdServer

from .conftest import holder, segment_pool


def now() -> datetime:
    return datetime.now(UTC)


async def test_allocation_records_the_holder_in_one_key(book: AddressBook, etcd: Etcd) -> None:
    lease = await book.allocate(segment_pool(), holder("i1", team="shop", service="web"))
    assert lease.address == IPv4Address("10.1.0.2")
    stored = await etcd.get(book.keys.address("s1", lease.address))
    assert stored is not None
    value = json.loads(stored.value)
    assert (value["instance"], value["team"], value["service"], value["host"]) == (
        "i1",
        "shop",
        "web",
        "h1",
    )


async def test_concurrent_allocators_in_two_processes_never_share_an_address(
    etcd_server: EtcdServer, keys: Keys
) -> None:
    clients = [Etcd([etcd_server.endpoint]) for _ in range(2)]
    books = [AddressBook(client, keys=keys, clock=now) for client in clients]
    pool = segment_pool("10.2.0.0/25")  # 125 addresses for 120 allocations
    leases = await asyncio.gather(
        *(books[n % 2].allocate(pool, holder(f"i{n}")) for n in range(120))
    )
    addresses = [lease.address for lease in leases]
    assert len(set(addresses)) == 120
    stored = await books[0].leases("s1")
    assert {lease.address for lease in stored} == set(addresses)
    assert {lease.holder.instance for lease in stored} == {f"i{n}" for n in range(120)}
    for client in clients:
        await client.close()


async def test_a_full_segment_says_it_is_exhausted(book: AddressBook) -> None:
    pool = segment_pool("10.3.0.0/29")
    for n in range(5):
        await book.allocate(pool, holder(f"i{n}"))
    with pytest.raises(SegmentExhausted, match=r"segment s1 is exhausted \(5 of 5 used\)"):
        await book.allocate(pool, holder("late"))


async def test_exhaustion_is_judged_on_a_fresh_read_not_a_stale_cache(
    etcd: Etcd, keys: Keys
) -> None:
    pool = segment_pool("10.3.0.0/29")
    mine, other = AddressBook(etcd, keys=keys, clock=now), AddressBook(etcd, keys=keys, clock=now)
    leases = [await mine.allocate(pool, holder(f"i{n}")) for n in range(5)]
    assert await other.release(leases[2], reason="released")  # freed by another process
    assert (await mine.allocate(pool, holder("again"))).address == leases[2].address


async def test_fixed_addresses_come_first_and_a_requested_held_one_conflicts(
    book: AddressBook,
) -> None:
    segment = Segment.parse(name="s1", cidr="10.4.0.0/24", gateway=None, environments=["test"])
    fixed = IPv4Address("10.4.0.50")
    pool = Pool(segment, fixed=frozenset({fixed}))
    first = await book.allocate(pool, holder("i1"), wanted=[fixed])
    assert first.address == fixed
    second = await book.allocate(pool, holder("i2"), wanted=[fixed])
    assert second.address == IPv4Address("10.4.0.2")  # its fixed one is taken: any other
    with pytest.raises(Conflict, match="held by someone else"):
        await book.allocate(pool, holder("i3"), wanted=[fixed], requested=first.address)


async def test_release_frees_only_the_lease_read_and_keeps_history(book: AddressBook) -> None:
    pool = segment_pool()
    lease = await book.allocate(pool, holder("i1"))
    assert await book.release(lease, reason="released")
    assert not await book.release(lease, reason="released")  # twice: nothing more to do
    again = await book.allocate(pool, holder("i2"), requested=lease.address)
    assert not await book.release(lease, reason="collected")  # stale: i2 holds it now
    assert (await book.lease("s1", lease.address)) == again
    by_address = await book.history(segment="s1", address=lease.address)
    assert [(r.holder.instance, r.reason) for r in by_address] == [
        ("i1", "released"),
        ("i2", "held"),
    ]
    assert by_address[0].released_at is not None
    by_owner = await book.history(owner="i1")
    assert [(str(r.address), r.reason) for r in by_owner] == [(str(lease.address), "released")]


async def test_etcd_restart_mid_burst_leaves_no_duplicate_and_no_leak(
    own_etcd: EtcdServer,
) -> None:
    keys = Keys(prefix="/burst")
    clients = [Etcd([own_etcd.endpoint], timeout_s=1.0) for _ in range(3)]
    books = [AddressBook(client, keys=keys, clock=now) for client in clients]
    pool = segment_pool("10.5.0.0/24")
    unavailable = 0
    restarted = asyncio.Event()

    async def allocate(n: int) -> IPv4Address:
        nonlocal unavailable
        while True:
            try:
                lease = await books[n % 3].allocate(pool, holder(f"i{n}"))
                return lease.address
            except Unavailable:
                unavailable += 1
                await asyncio.sleep(0.1)

    async def burst() -> list[IPv4Address]:
        addresses = []
        for wave in range(6):
            if wave == 2:
                restart = asyncio.create_task(asyncio.to_thread(own_etcd.restart, down_s=1.0))
            addresses += await asyncio.gather(*(allocate(wave * 30 + n) for n in range(30)))
            if wave == 2:
                await restart
                restarted.set()
        return addresses

    addresses = await asyncio.wait_for(burst(), timeout=90)
    assert restarted.is_set() and unavailable > 0  # allocations did fail while etcd was down
    for book in books:
        await book.settle()
    stored = await books[0].leases("s1")
    assert len(addresses) == len(set(addresses)) == 180
    assert {lease.address for lease in stored} == set(addresses)  # nothing leaked
    assert len({lease.holder.instance for lease in stored}) == 180
    for client in clients:
        await client.close()
