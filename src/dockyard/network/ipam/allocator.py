"""Which address next: the pure allocation decision, with no I/O and no clock.

Given a segment, the addresses in use and the last one handed out, `choose` picks the next free
address round-robin after the last (as CNI host-local and Kubernetes' range allocator do), so an
address just released is not handed out again at once while stale routes or ARP entries may
still point at it. A service's fixed addresses come first for its own instances and are never
given to anyone else. The storage adapter (store.py) makes the choice stick with a
compare-and-swap and asks again on a conflict.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Container, Sequence, Set
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address

from dockyard.domain.errors import Conflict, Invalid
from dockyard.domain.segment import Segment


class SegmentExhausted(Conflict):
    """No free address is left for this request in the segment."""


@dataclass(frozen=True)
class Pool:
    """A segment as the allocator sees it: its addresses and every fixed address in it."""

    segment: Segment
    fixed: frozenset[IPv4Address] = frozenset()

    def assignable(self, address: IPv4Address) -> bool:
        """True if the address may ever be given to an instance (fixed ones included)."""
        return self.segment.holds(address) and not self.segment.is_reserved(address)

    @cached_property
    def capacity(self) -> int:
        """How many addresses may be handed out in all (fixed ones included)."""
        network = self.segment.cidr
        low, high = int(network.network_address) + 1, int(network.broadcast_address) - 1
        gateway = int(self.segment.gateway)
        reserved, covered_to = 0, low - 1  # ranges are sorted; count each address once
        for span in self.segment.reserved:
            start, end = max(int(span.first), covered_to + 1, low), min(int(span.last), high)
            if start <= end:
                reserved += end - start + 1 - (1 if start <= gateway <= end else 0)
                covered_to = end
        return high - low + 1 - 1 - reserved  # the gateway is never handed out either


@dataclass(frozen=True)
class Usage:
    """How full a segment is, for the portal and `dockyard segments show`."""

    capacity: int
    used: int
    free: int
    reserved: int
    """Addresses never handed out: gateway and reserved ranges (network/broadcast excluded)."""
    fixed: int
    """Addresses fixed for services (part of `capacity`)."""


def choose(
    pool: Pool,
    *,
    used: Container[IPv4Address],
    last: IPv4Address | None,
    wanted: Sequence[IPv4Address] = (),
) -> IPv4Address:
    """The address to try next for one instance.

    `used` needs membership only (the caller may pass a cheap union of several sets).
    `wanted` are the fixed addresses of the instance's service in this environment: the first
    free one is chosen. Otherwise the first free, non-fixed address after `last` (wrapping round).
    Raises SegmentExhausted naming the segment and how full it is when nothing is free.
    """
    for address in wanted:
        if address not in used and pool.assignable(address):
            return address
    network = pool.segment.cidr
    first, final = int(network.network_address) + 1, int(network.broadcast_address) - 1
    start = int(last) + 1 if last is not None and first <= int(last) < final else first
    for value in itertools.chain(range(start, final + 1), range(first, start)):
        address = IPv4Address(value)
        if address not in used and address not in pool.fixed and pool.assignable(address):
            return address
    raise exhausted(pool, used)


def again_first(
    pool: Pool, previous: IPv4Address | None, wanted: Sequence[IPv4Address]
) -> list[IPv4Address]:
    """The addresses to try first for an instance started again: the one it held before
    (`previous`), then `wanted` (its service's fixed addresses). Its previous address is left
    out if it may no longer be handed out to it (reserved since, or fixed for another service
    since). `choose` takes the first of them that is free, so one taken meanwhile is skipped.
    """
    if previous is None or not pool.assignable(previous):
        return list(wanted)
    if previous in pool.fixed and previous not in wanted:
        return list(wanted)
    return [previous, *(address for address in wanted if address != previous)]


def check_requested(pool: Pool, address: IPv4Address, *, wanted: Collection[IPv4Address]) -> None:
    """Raise Invalid unless `address` may be asked for by name by this owner.

    An address outside the segment, its gateway, a reserved one, or another service's fixed
    address is never handed out, even when asked for by name.
    """
    segment = pool.segment
    if not pool.assignable(address):
        raise Invalid(
            f"{address} cannot be handed out in segment {segment.name} ({segment.cidr}): it is "
            "outside it, its network, broadcast or gateway address, or reserved",
            field="address",
        )
    if address in pool.fixed and address not in wanted:
        raise Invalid(
            f"{address} is fixed for another service in segment {segment.name}: ask for "
            "another address, or none",
            field="address",
        )


def exhausted(pool: Pool, used: Container[IPv4Address]) -> SegmentExhausted:
    segment = pool.segment
    network = segment.cidr
    # Counted by walking the segment: `used` may answer membership only. Only on exhaustion.
    taken = [
        address
        for value in range(int(network.network_address) + 1, int(network.broadcast_address))
        if (address := IPv4Address(value)) in used and pool.assignable(address)
    ]
    free_fixed = sum(
        1 for address in pool.fixed if address not in used and pool.assignable(address)
    )
    kept = f"; {free_fixed} more are fixed for other services" if free_fixed else ""
    return SegmentExhausted(
        f"segment {segment.name} is exhausted ({len(taken)} of {pool.capacity} used{kept}): "
        "scale something down, release leaked addresses (`dockyard ipam check`), or add a "
        f"segment for {', '.join(sorted(env.value for env in segment.environments))}",
        field="segment",
    )


def usage(pool: Pool, used: Set[IPv4Address]) -> Usage:
    """Counts of a segment's addresses by state; addresses in `used` outside it are ignored."""
    count = sum(1 for address in used if pool.assignable(address))
    segment = pool.segment
    never = segment.cidr.num_addresses - 2 - pool.capacity
    return Usage(
        capacity=pool.capacity,
        used=count,
        free=pool.capacity - count,
        reserved=never,
        fixed=sum(1 for address in pool.fixed if pool.assignable(address)),
    )
