"""Host liveness against a real etcd with short TTLs: each agent's alive key lives with its etcd
lease, a lost lease is registered again, and only the addresses of a host gone for the grace
period are freed, never those of a host whose key exists (Calico #5044), with etcd restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.agent.liveness import GoneHostCollector, HostBeacon
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Keys, Lease, Pool
from dockyard.network.ipam.hosts import HostRegistry
from tests.support.etcd import EtcdServer

from .conftest import holder, segment_pool

TTL_S = 2  # etcd's smallest lease TTL with its default heartbeat and election timeout
GRACE = timedelta(minutes=10)


@dataclass
class MovableClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Cluster:
    """Several hosts' IPAM parts over one etcd, each with its own connection, as on hosts."""

    endpoint: str
    keys: Keys
    clock: MovableClock
    clients: list[Etcd] = field(default_factory=list)

    def etcd(self) -> Etcd:
        client = Etcd([self.endpoint], timeout_s=1.0)
        self.clients.append(client)
        return client

    def registry(self) -> HostRegistry:
        return HostRegistry(self.etcd(), keys=self.keys, clock=self.clock)

    def book(self) -> AddressBook:
        return AddressBook(self.etcd(), keys=self.keys, clock=self.clock)

    def beacon(self, host: str) -> HostBeacon:
        return HostBeacon(self.registry(), host=host, version="9.9", ttl_s=TTL_S, clock=self.clock)

    def collector(self, host: str) -> GoneHostCollector:
        return GoneHostCollector(
            self.book(), self.registry(), host=host, grace=GRACE, clock=self.clock
        )


async def make_cluster(endpoint: str, keys: Keys) -> Cluster:
    return Cluster(endpoint, keys, MovableClock())


@pytest.fixture
async def cluster(etcd_server: EtcdServer, keys: Keys) -> AsyncIterator[Cluster]:
    made = await make_cluster(etcd_server.endpoint, keys)
    yield made
    for client in made.clients:
        await client.close()


async def until_absent(registry: HostRegistry, host: str, *, timeout_s: float = 8.0) -> None:
    """Wait for etcd to expire `host`'s alive key (TTL plus etcd's expiry check)."""
    for _ in range(int(timeout_s / 0.1)):
        if host not in await registry.alive():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{host}'s alive key did not expire within {timeout_s} s")


async def hold(book: AddressBook, pool: Pool, *, host: str, kind: str = "docker") -> Lease:
    return await book.allocate(pool, holder(f"i-{host}-{kind}", host=host, kind=kind))


async def test_a_registered_host_has_an_alive_key_naming_it_and_a_kept_record(
    cluster: Cluster,
) -> None:
    beacon = cluster.beacon("h1")
    assert await beacon.beat()
    registry = cluster.registry()
    assert await registry.alive() == {"h1"}
    found = await cluster.etcd().get(cluster.keys.host_alive("h1"))
    assert found is not None
    assert json.loads(found.value) == {
        "host": "h1",
        "version": "9.9",
        "started": cluster.clock.now.isoformat(),
    }
    known = (await registry.known())["h1"].record
    assert (known.version, known.registered, known.absent_since) == ("9.9", cluster.clock.now, None)


async def test_a_lost_lease_is_registered_again_at_the_next_beat(cluster: Cluster) -> None:
    beacon = cluster.beacon("h1")
    await beacon.beat()
    assert beacon.lease is not None
    await cluster.etcd().revoke(beacon.lease)  # as if etcd had expired it
    registry = cluster.registry()
    assert await registry.alive() == set()
    assert await beacon.beat()
    assert beacon.registrations == 2 and await registry.alive() == {"h1"}


async def test_refreshing_within_the_ttl_keeps_the_key_and_stopping_lets_it_expire(
    cluster: Cluster,
) -> None:
    beacon = cluster.beacon("h1")
    for _ in range(4):  # 4 x 1 s > the 2 s TTL: only the refreshes keep it
        assert await beacon.beat()
        await asyncio.sleep(beacon.interval_s * 1.5)
    registry = cluster.registry()
    assert await registry.alive() == {"h1"} and beacon.registrations == 1
    await until_absent(registry, "h1")  # no more beats: etcd deletes it


async def test_only_a_host_gone_for_the_grace_period_loses_its_docker_addresses(
    cluster: Cluster,
) -> None:
    me, dead, other = cluster.beacon("h1"), cluster.beacon("h2"), cluster.beacon("h3")
    for beacon in (me, dead, other):
        await beacon.beat()
    book, pool = cluster.book(), segment_pool("10.61.0.0/28")
    docker_held = [await hold(book, pool, host="h2") for _ in range(2)]
    cni_held = await hold(book, pool, host="h2", kind="cni")
    alive_held = await hold(book, pool, host="h3")
    unregistered = await hold(book, pool, host="h9")  # an agent from before liveness
    collector = cluster.collector("h1")
    cluster.clock.now += timedelta(days=30)  # however old the records: alive hosts keep all
    assert await collector.run_pass() == 0
    await until_absent(cluster.registry(), "h2")  # h2's agent stops beating; h3's goes on
    await me.beat()
    await other.beat()
    absent_at = cluster.clock.now
    assert await collector.run_pass() == 0  # first sighting: the grace period starts
    known = (await cluster.registry().known())["h2"].record
    assert (known.absent_since, known.observed_by) == (absent_at, "h1")
    cluster.clock.now += GRACE - timedelta(seconds=1)
    await me.beat()
    await other.beat()
    assert await collector.run_pass() == 0
    cluster.clock.now += timedelta(seconds=1)
    assert await collector.run_pass() == 2
    remaining = {lease.address for lease in await book.leases()}
    assert remaining == {cni_held.address, alive_held.address, unregistered.address}
    history = await book.history(address=docker_held[0].address)
    assert [(r.reason, r.holder.host) for r in history] == [("host-gone", "h2")]
    assert history[0].detail is not None
    assert f"host h2 gone since {absent_at.isoformat(timespec='seconds')}" in history[0].detail


async def test_a_host_that_registers_again_keeps_its_addresses_even_mid_release(
    cluster: Cluster,
) -> None:
    book, pool = cluster.book(), segment_pool("10.62.0.0/28")
    await cluster.beacon("h2").beat()
    lease = await hold(book, pool, host="h2")
    # The collector judged h2 gone, then h2 came back before the release transaction:
    # the transaction's compare on h2's alive key keeps the address.
    alive_key = cluster.keys.host_alive("h2")
    assert not await book.release(lease, reason="host-gone", unless_present=[alive_key])
    assert await book.lease(lease.segment, lease.address) == lease


async def test_two_collectors_at_once_free_each_address_exactly_once(cluster: Cluster) -> None:
    book, pool = cluster.book(), segment_pool("10.63.0.0/28")
    dead = cluster.beacon("h2")
    await dead.beat()
    held = [await hold(book, pool, host="h2") for _ in range(5)]
    assert dead.lease is not None
    await cluster.etcd().revoke(dead.lease)  # h2's agent is gone
    hosts = ["h1", "h3"]
    beacons = [cluster.beacon(host) for host in hosts]
    collectors = [cluster.collector(host) for host in hosts]
    for beacon in beacons:
        await beacon.beat()
    await asyncio.gather(*(collector.run_pass() for collector in collectors))
    cluster.clock.now += GRACE
    freed = await asyncio.gather(*(collector.run_pass() for collector in collectors))
    assert sum(freed) == len(held) and await book.leases() == []
    for lease in held:
        assert len(await book.history(address=lease.address)) == 1


async def test_liveness_survives_an_etcd_restart_and_nothing_live_is_freed(
    own_etcd: EtcdServer, keys: Keys
) -> None:
    cluster = await make_cluster(own_etcd.endpoint, keys)
    try:
        me, other = cluster.beacon("h1"), cluster.beacon("h2")
        await me.beat()
        await other.beat()
        book = cluster.book()
        held = await hold(book, segment_pool("10.64.0.0/28"), host="h2")
        collector = cluster.collector("h1")
        own_etcd.stop()
        assert not await other.beat()  # etcd down: the beat fails, the beacon lives on
        await asyncio.sleep(TTL_S + 1)  # down for longer than the TTL
        own_etcd.start()
        for _ in range(30):  # the clients reconnect
            if await me.beat() and await other.beat():
                break
            await asyncio.sleep(0.2)
        assert await cluster.registry().alive() == {"h1", "h2"}
        for _ in range(3):
            cluster.clock.now += GRACE
            assert await collector.run_pass() == 0
            await me.beat()
            await other.beat()
        assert await book.lease(held.segment, held.address) is not None
    finally:
        for client in cluster.clients:
            await client.close()
