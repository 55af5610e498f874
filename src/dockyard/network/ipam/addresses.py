"""The etcd adapter of IPAM: allocate, release and read held addresses, one key per address.

- Allocate: the pure allocator (allocator.py) proposes an address, a transaction creates its key
  only if absent (create revision 0); on a conflict the next address is tried, a bounded number
  of times. No lock is ever held across the network.
- Release: delete the key only if it still has the revision the caller read (so a holder that
  changed meanwhile is never released by mistake), writing the history record in the same
  transaction.
- A write whose answer was lost (OutcomeUnknown) is never retried blindly: the key is re-read
  and our claim (a random token in the value) compared. If etcd cannot even be read, the claim
  is remembered as doubtful and settled (released if it turns out to be ours) once etcd
  answers again, so an outage leaves no leak behind.
- Each segment's used set is cached per process and refreshed from etcd when older than
  `refresh_s`, on exhaustion, and piecemeal on every conflict: the steady state is one
  transaction per allocation.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address

from dockyard.domain.clock import Clock
from dockyard.domain.errors import Conflict, Unavailable
from dockyard.network.etcd import Entry, Etcd, OutcomeUnknown, Put
from dockyard.network.ipam.allocator import Pool, SegmentExhausted, check_requested, choose
from dockyard.network.ipam.records import HistoryRecord, Holder, Keys, Lease

log = logging.getLogger("dockyard.network.ipam")

MAX_ATTEMPTS = 16
"""Conflicts tolerated beyond one per address the allocator saw free when it started."""
MAX_FREE_COUNTED = 1024
CONFLICT_RELOAD_S = 0.05
REREAD_ATTEMPTS = 3
REREAD_PAUSE_S = 0.2


@dataclass
class _View:
    """What this process knows of one segment's held addresses."""

    used: set[IPv4Address] = field(default_factory=set)
    in_flight: set[IPv4Address] = field(default_factory=set)
    last: IPv4Address | None = None
    loaded_at: float = -1.0

    def __contains__(self, address: object) -> bool:
        """Taken, as far as this process knows: held, or being claimed by one of our tasks."""
        return address in self.used or address in self.in_flight


def new_claim() -> str:
    return secrets.token_hex(8)


class AddressBook:
    """Held addresses in etcd. One per process and event loop; safe for concurrent tasks."""

    def __init__(self, etcd: Etcd, *, keys: Keys, clock: Clock, refresh_s: float = 5.0) -> None:
        self.etcd = etcd
        self.keys = keys
        self._clock = clock
        self._refresh_s = refresh_s
        self._views: dict[str, _View] = {}
        self._doubtful: dict[str, str] = {}  # key -> our claim, fate unknown

    # -- allocate ------------------------------------------------------------------------

    async def allocate(
        self,
        pool: Pool,
        holder: Holder,
        *,
        wanted: Sequence[IPv4Address] = (),
        requested: IPv4Address | None = None,
    ) -> Lease:
        """Hold one address of `pool` for `holder`, recorded in etcd when this returns.

        `wanted`: the holder's fixed addresses, taken first. `requested`: exactly this address
        (Conflict if someone holds it, Invalid if it may not be handed out).
        Raises SegmentExhausted when nothing is free, Unavailable when etcd does not answer;
        after a failure nothing is held for `holder` (or it is released once etcd is back).
        """
        await self.settle()
        segment = pool.segment.name
        view = self._views.setdefault(segment, _View())
        if requested is not None:
            check_requested(pool, requested, wanted=wanted)
        # Every conflict is an address someone else took, and it is never tried again: a budget
        # of one attempt per address seen free (plus a margin for what others free meanwhile)
        # lets a busy, nearly full segment still hand out its last addresses, yet stays bounded.
        attempts = MAX_ATTEMPTS + min(max(pool.capacity - len(view.used), 0), MAX_FREE_COUNTED)
        for _ in range(attempts):
            address = await self._propose(pool, view, wanted=wanted, requested=requested)
            view.in_flight.add(address)
            try:
                lease = await self._claim(pool, address, replace(holder, claim=new_claim()))
            finally:
                view.in_flight.discard(address)
            view.used.add(address)
            if lease is not None:
                return lease
            if time.monotonic() - view.loaded_at > CONFLICT_RELOAD_S:
                # Someone else allocates here too: one read learns all they took, where
                # learning it one conflict at a time would cascade.
                await self._load(segment, view)
            # Two allocators walking the same round-robin order would collide on every step:
            # the one that lost jumps to a random place and walks on from there.
            view.last = _random_host(pool)
            if requested is not None:
                raise Conflict(
                    f"{requested} in segment {segment} is held by someone else: "
                    "`dockyard ipam history` tells who",
                    field="address",
                )
        raise Conflict(
            f"segment {segment}: {attempts} addresses in a row were taken by others while "
            "trying them; the segment is nearly full or very busy: try again"
        )

    async def _propose(
        self,
        pool: Pool,
        view: _View,
        *,
        wanted: Sequence[IPv4Address],
        requested: IPv4Address | None,
    ) -> IPv4Address:
        if requested is not None:
            return requested
        fresh = time.monotonic() - view.loaded_at > self._refresh_s
        if fresh:
            await self._load(pool.segment.name, view)
        try:
            address = choose(pool, used=view, last=view.last, wanted=wanted)
        except SegmentExhausted:
            if fresh:
                raise
            await self._load(pool.segment.name, view)  # our picture may be stale: look again
            address = choose(pool, used=view, last=view.last, wanted=wanted)
        if address not in wanted:
            view.last = address
        return address

    async def _load(self, segment: str, view: _View) -> None:
        entries = await self.etcd.get_prefix(self.keys.addresses(segment))
        view.used = {self.keys.parse_address_key(entry.key)[1] for entry in entries}
        if view.last is None and entries:
            # Continue after the newest holding, as a restarted allocator should.
            newest = max(entries, key=lambda entry: entry.create_revision)
            view.last = self.keys.parse_address_key(newest.key)[1]
        view.loaded_at = time.monotonic()

    async def _claim(self, pool: Pool, address: IPv4Address, holder: Holder) -> Lease | None:
        """Create the address's key for `holder`; None if someone else holds it."""
        key = self.keys.address(pool.segment.name, address)
        try:
            existing = await self.etcd.create(key, holder.to_json())
        except OutcomeUnknown:
            found = await self._reread(key, holder.claim)
            if found is None:
                return None
            return _lease(self.keys, found)
        created, entry = existing
        return _lease(self.keys, entry) if created else None

    async def _reread(self, key: str, claim: str) -> Entry | None:
        """After a lost answer: our entry if the write took effect, None if it did not.

        If etcd cannot be read either, the claim is remembered as doubtful and Unavailable
        raised: `settle` releases it later if it turns out to be ours.
        """
        for attempt in range(REREAD_ATTEMPTS):
            try:
                found = await self.etcd.get(key)
            except Unavailable:
                await asyncio.sleep(REREAD_PAUSE_S * (attempt + 1))
                continue
            if found is not None and Holder.from_json(found.value).claim == claim:
                return found
            return None
        self._doubtful[key] = claim
        raise Unavailable(
            "IPAM unavailable: etcd stopped answering while an address was being allocated; "
            "it is retried when etcd answers again"
        )

    async def settle(self) -> None:
        """Release claims whose fate an outage left unknown, if they turned out to be ours.

        Raises Unavailable (keeping them) while etcd does not answer.
        """
        for key, claim in list(self._doubtful.items()):
            found = await self.etcd.get(key)
            if found is not None and Holder.from_json(found.value).claim == claim:
                await self.etcd.delete(key, mod_revision=found.mod_revision)
                log.info("released address nobody received after an etcd outage key=%s", key)
            if self._doubtful.get(key) == claim:  # concurrent settles: forget it once
                del self._doubtful[key]

    @property
    def doubtful(self) -> int:
        """How many claims wait to be settled."""
        return len(self._doubtful)

    # -- read ----------------------------------------------------------------------------

    async def lease(self, segment: str, address: IPv4Address) -> Lease | None:
        found = await self.etcd.get(self.keys.address(segment, address))
        return None if found is None else _lease(self.keys, found)

    async def leases(self, segment: str | None = None) -> list[Lease]:
        """Every held address (of one segment, or of all), in key order."""
        entries = await self.etcd.get_prefix(self.keys.addresses(segment))
        return [_lease(self.keys, entry) for entry in entries]

    async def history(
        self,
        *,
        segment: str | None = None,
        address: IPv4Address | None = None,
        owner: str | None = None,
    ) -> list[HistoryRecord]:
        """Past and current holdings of one address (in one or every segment) or of one owner
        (instance or container id), oldest first."""
        records: list[HistoryRecord] = []
        if owner is not None:
            entries = await self.etcd.get_prefix(self.keys.history_of_owner(owner))
            records = [HistoryRecord.from_json(entry.value) for entry in entries]
            current = [lease for lease in await self.leases() if owner in _ids(lease.holder)]
        else:
            assert address is not None, "history needs an address or an owner"
            current = [lease for lease in await self.leases(segment) if lease.address == address]
            found = await self.etcd.get_prefix(self.keys.history_of_address(address, segment))
            records = [HistoryRecord.from_json(entry.value) for entry in found]
        records += [
            HistoryRecord(lease.segment, lease.address, lease.holder, None, "held")
            for lease in current
        ]
        return sorted(records, key=lambda record: record.holder.since)

    async def last_held(self, owner: str, segment: str) -> IPv4Address | None:
        """The address `owner` (an instance id) held last in `segment` and released, if any:
        what it asks for first when it starts again (one read of the owner's history)."""
        entries = await self.etcd.get_prefix(self.keys.history_of_owner(owner))
        # Keys end in the holding's create revision, zero-padded: the greatest is the newest.
        for entry in sorted(entries, key=lambda found: found.key, reverse=True):
            record = HistoryRecord.from_json(entry.value)
            if record.segment == segment:
                return record.address
        return None

    # -- change --------------------------------------------------------------------------

    async def release(
        self,
        lease: Lease,
        *,
        reason: str,
        detail: str | None = None,
        unless_present: Sequence[str] = (),
    ) -> bool:
        """Free `lease`'s address if it is still exactly that lease (same revision) and no key
        in `unless_present` exists (e.g. its host's liveness key), checked in the same
        transaction.

        True if this call released it; False if it was already gone, has changed since it
        was read, or a key of `unless_present` exists (then nothing is done: re-read and
        judge again). The history record is written in the same transaction. Unavailable if
        etcd does not answer.
        """
        key = self.keys.address(lease.segment, lease.address)
        record = HistoryRecord(
            lease.segment, lease.address, lease.holder, self._clock(), reason, detail
        )
        stamp = f"{lease.created_revision:012d}"
        history = [
            Put(
                self.keys.history_of_address(lease.address, lease.segment) + stamp, record.to_json()
            )
        ]
        if lease.holder.owner:
            history.append(
                Put(self.keys.history_of_owner(lease.holder.owner) + stamp, record.to_json())
            )
        try:
            done = await self.etcd.delete(
                key, mod_revision=lease.revision, also=history, absent=unless_present
            )
        except OutcomeUnknown:
            found = await self.etcd.get(key)  # Unavailable propagates: the caller retries
            done = found is None or found.create_revision != lease.created_revision
        view = self._views.get(lease.segment)
        if done and view is not None:
            view.used.discard(lease.address)
        return done

    async def adopt(self, segment: str, address: IPv4Address, holder: Holder) -> Lease | None:
        """Hold `address` for `holder` only if nobody holds it (an address found in use with
        no key, e.g. after this host's were freed while it was cut off). The new lease, or
        None if someone holds it. Unavailable if etcd does not answer."""
        key = self.keys.address(segment, address)
        holder = replace(holder, claim=new_claim())
        try:
            created, entry = await self.etcd.create(key, holder.to_json())
        except OutcomeUnknown:
            found = await self._reread(key, holder.claim)
            return None if found is None else _lease(self.keys, found)
        if not created:
            return None
        view = self._views.get(segment)
        if view is not None:
            view.used.add(address)
        return _lease(self.keys, entry)

    async def rebind(self, lease: Lease, holder: Holder) -> Lease | None:
        """Record more about the holder (e.g. its container id) if the lease is unchanged."""
        key = self.keys.address(lease.segment, lease.address)
        if not await self.etcd.replace(key, holder.to_json(), mod_revision=lease.revision):
            return None
        return await self.lease(lease.segment, lease.address)


def _lease(keys: Keys, entry: Entry) -> Lease:
    segment, address = keys.parse_address_key(entry.key)
    return Lease(
        segment=segment,
        address=address,
        holder=Holder.from_json(entry.value),
        revision=entry.mod_revision,
        created_revision=entry.create_revision,
    )


def _random_host(pool: Pool) -> IPv4Address:
    network = pool.segment.cidr
    return network.network_address + 1 + secrets.randbelow(network.num_addresses - 2)


def _ids(holder: Holder) -> set[str]:
    return {value for value in (holder.instance, holder.container) if value}
