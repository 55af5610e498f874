"""IPAM throughput against etcd: allocations + releases per second with 1, 8 and 32 concurrent
allocators, against raw create-if-absent transactions at the same concurrency (the limit).

Each allocator has its own etcd connection and its own AddressBook, as separate agents would.
A level allocates OPS addresses in a /16 segment (every allocator holding what it got), checks
that no address was handed out twice and that etcd holds exactly those, then releases them
all: the rate counts allocations + releases (each one etcd transaction). The raw baseline, in
the same run and with the same connections, creates OPS unique keys only-if-absent (one
transaction each) and deletes them. Target (issue): IPAM >= 50% of raw.

Also timed: 1,000 addresses allocated by 32 allocators (published anchors for 1,000 pods,
everything included: Spiderpool 182 s, Calico 322 s).

Run: .venv/bin/python -m benchmarks.ipam [--ops 2000] [--endpoint http://127.0.0.1:2379]
Without --endpoint a throwaway etcd (Debian's /usr/bin/etcd) is started and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from dockyard.domain.segment import Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Holder, Keys, Lease, Pool
from tests.support.etcd import EtcdServer

LEVELS = (1, 8, 32)
SEGMENT = Segment.parse(name="bench", cidr="10.128.0.0/16", gateway=None, environments=["test"])


@dataclass(frozen=True)
class Level:
    concurrency: int
    ipam_ops_s: float
    raw_ops_s: float
    duplicates: int

    @property
    def ratio(self) -> float:
        return self.ipam_ops_s / self.raw_ops_s


def now() -> datetime:
    return datetime.now(UTC)


async def spread(total: int, workers: int, work: Callable[[int, int], Awaitable[None]]) -> float:
    """Run `total` operations split over `workers`; returns the seconds it took."""
    shares = [total // workers + (1 if n < total % workers else 0) for n in range(workers)]
    started = time.perf_counter()
    await asyncio.gather(*(work(n, share) for n, share in enumerate(shares)))
    return time.perf_counter() - started


async def raw_level(clients: list[Etcd], ops: int, prefix: str) -> float:
    """Raw create-if-absent transactions, then delete-if-revision transactions, per second."""
    revisions: dict[str, int] = {}

    async def create(worker: int, count: int) -> None:
        for n in range(count):
            key = f"{prefix}/raw/{worker}/{n}"
            _, entry = await clients[worker].create(key, b"x")
            revisions[key] = entry.mod_revision

    async def delete(worker: int, count: int) -> None:
        for n in range(count):
            key = f"{prefix}/raw/{worker}/{n}"
            await clients[worker].delete(key, mod_revision=revisions[key])

    created = await spread(ops, len(clients), create)
    deleted = await spread(ops, len(clients), delete)
    return 2 * ops / (created + deleted)


async def ipam_level(
    books: list[AddressBook], ops: int, pool: Pool
) -> tuple[float, int, list[Lease]]:
    """Allocations then releases per second, duplicates found, and what was held."""
    held: list[list[Lease]] = [[] for _ in books]

    async def allocate(worker: int, count: int) -> None:
        holder = Holder(host=f"bench-{worker}", claim="", since=now())
        for n in range(count):
            instance = f"{worker:02d}{n:08d}"
            held[worker].append(
                await books[worker].allocate(pool, replace_instance(holder, instance))
            )

    async def release(worker: int, count: int) -> None:
        for lease in held[worker][:count]:
            await books[worker].release(lease, reason="released")

    allocated = await spread(ops, len(books), allocate)
    leases = [lease for part in held for lease in part]
    stored = await books[0].leases(pool.segment.name)
    duplicates = len(leases) - len({lease.address for lease in leases})
    duplicates += len({lease.address for lease in leases} ^ {lease.address for lease in stored})
    released = await spread(ops, len(books), release)
    return 2 * ops / (allocated + released), duplicates, leases


def replace_instance(holder: Holder, instance: str) -> Holder:
    return Holder(host=holder.host, claim="", since=holder.since, instance=instance)


async def thousand(endpoint: str, prefix: str) -> float:
    """Seconds to allocate 1,000 addresses with 32 allocators."""
    clients = [Etcd([endpoint]) for _ in range(32)]
    books = [AddressBook(c, keys=Keys(prefix + "/k"), clock=now) for c in clients]
    pool = Pool(SEGMENT)

    async def allocate(worker: int, count: int) -> None:
        for n in range(count):
            holder = Holder(host="bench", claim="", since=now(), instance=f"{worker}-{n}")
            await books[worker].allocate(pool, holder)

    took = await spread(1000, 32, allocate)
    stored = await books[0].leases(SEGMENT.name)
    assert len({lease.address for lease in stored}) == 1000, "duplicates or losses"
    for client in clients:
        await client.close()
    return took


async def measure(endpoint: str, ops: int) -> tuple[list[Level], float]:
    prefix = f"/bench-{secrets.token_hex(4)}"
    levels = []
    for concurrency in LEVELS:
        clients = [Etcd([endpoint]) for _ in range(concurrency)]
        books = [AddressBook(c, keys=Keys(f"{prefix}/{concurrency}"), clock=now) for c in clients]
        await clients[0].get("/warm-up")
        raw = await raw_level(clients, ops, f"{prefix}/{concurrency}")
        rate, duplicates, _ = await ipam_level(books, ops, Pool(SEGMENT))
        levels.append(Level(concurrency, rate, raw, duplicates))
        for client in clients:
            await client.close()
    return levels, await thousand(endpoint, prefix)


def report(levels: list[Level], thousand_s: float, ops: int) -> None:
    print(f"IPAM against etcd: {ops} allocations + {ops} releases per level")
    print(f"{'allocators':>10}  {'ipam ops/s':>10}  {'raw txn/s':>10}  {'ratio':>6}  duplicates")
    for level in levels:
        print(
            f"{level.concurrency:>10}  {level.ipam_ops_s:>10.0f}  {level.raw_ops_s:>10.0f}  "
            f"{level.ratio:>6.0%}  {level.duplicates}"
        )
    print(
        f"1,000 addresses with 32 allocators: {thousand_s:.2f} s "
        "(anchors for 1,000 pods, everything included: Spiderpool 182 s, Calico 322 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--endpoint", default=None, help="an etcd to use (default: start one)")
    args = parser.parse_args()
    server = None
    if args.endpoint is None:
        server = EtcdServer()
        server.start()
    try:
        endpoint = args.endpoint or (server.endpoint if server else "")
        levels, thousand_s = asyncio.run(measure(endpoint, args.ops))
    finally:
        if server is not None:
            server.remove()
    report(levels, thousand_s, args.ops)
    if any(level.duplicates for level in levels):
        raise SystemExit("duplicates found")


if __name__ == "__main__":
    main()
