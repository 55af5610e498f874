"""The agent's host liveness: keep this host's alive key in etcd, and free the addresses of
hosts whose agent has been gone for the grace period.

- `HostBeacon` (an agent part): registers the host under an etcd lease and refreshes it every
  third of its TTL; when the lease is lost (etcd was out of reach longer than the TTL, or the
  lease was revoked) it registers again at once. An etcd error ends a beat, never the part.
- `GoneHostCollector` (a step of the IPAM pass, agent/ipam.py): every agent runs it, so it
  needs no leader: the decision is pure (network/ipam/collector.py `judge_hosts`) and each
  release is one transaction that deletes the address key only if it still has the revision
  read AND the host's alive key is absent. Two agents racing free an address once; a host that
  re-registers in the meantime keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.network.ipam.addresses import AddressBook
from dockyard.network.ipam.collector import AbsentSince, judge_hosts
from dockyard.network.ipam.hosts import HostRegistry, Known
from dockyard.network.ipam.records import Lease

log = logging.getLogger("dockyard.agent.liveness")


class HostBeacon:
    """Keeps `host`'s alive key in etcd while it runs. `beat` is one step, for tests."""

    def __init__(
        self, registry: HostRegistry, *, host: str, version: str, ttl_s: int, clock: Clock
    ) -> None:
        self._registry = registry
        self.host = host
        self._version = version
        self.ttl_s = ttl_s
        self._started = clock()
        self.lease: int | None = None
        self.registrations = 0
        """How many times this beacon registered (1 at start, +1 per lost lease)."""

    @property
    def interval_s(self) -> float:
        """A third of the TTL: a refresh may fail twice before the key expires."""
        return self.ttl_s / 3

    async def run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self.interval_s)

    async def beat(self) -> bool:
        """Register if not registered, else refresh (registering again if the lease was lost).

        True if the alive key is held after this; False (logged) if etcd did not answer.
        """
        try:
            if self.lease is not None and await self._registry.refresh(self.lease):
                return True
            if self.lease is not None:
                log.warning("liveness lease lost host=%s: registering again", self.host)
            self.lease = await self._registry.register(
                host=self.host, version=self._version, started=self._started, ttl_s=self.ttl_s
            )
            self.registrations += 1
            log.info("host registered host=%s ttl_s=%d", self.host, self.ttl_s)
            return True
        except DockyardError as exc:
            log.warning("liveness beat failed host=%s reason=%s", self.host, exc.message)
            return False


class GoneHostCollector:
    """Frees Docker-held addresses of hosts absent for `grace`; see the module docstring."""

    def __init__(
        self,
        book: AddressBook,
        registry: HostRegistry,
        *,
        host: str,
        grace: timedelta,
        clock: Clock,
    ) -> None:
        self._book = book
        self._registry = registry
        self._host = host
        self._grace = grace
        self._clock = clock
        self._absent: AbsentSince = {}

    async def run_pass(self) -> int:
        """One pass; how many addresses it freed. Unavailable if etcd does not answer."""
        # Leases first, liveness second: a host seen alive here is never judged, and one that
        # registers after this read is protected by the release transaction's compare.
        leases = await self._book.leases()
        alive = await self._registry.alive()
        known = await self._registry.known()
        now = self._clock()
        verdict = judge_hosts(
            leases,
            alive=alive,
            registered=set(known),
            me=self._host,
            absent_since=self._absent,
            now=now,
            grace=self._grace,
        )
        self._absent = verdict.absent_since
        for host in verdict.newly_absent:
            log.warning("host absent host=%s grace_s=%d", host, self._grace.total_seconds())
            await self._registry.mark_absent(known[host], since=now, by=self._host)
        released = 0
        for lease in verdict.release:
            released += await self._release(lease, known[lease.holder.host])
        return released

    async def _release(self, lease: Lease, known: Known) -> int:
        host = lease.holder.host
        since, by = self._gone_since(known)
        detail = (
            f"host {host} gone since {since.isoformat(timespec='seconds')} (its agent's "
            f"liveness key absent, first seen by {by}); freed by {self._host} after "
            f"{int(self._grace.total_seconds())} s"
        )
        freed = await self._book.release(
            lease,
            reason="host-gone",
            detail=detail,
            unless_present=[self._registry.keys.host_alive(host)],
        )
        if freed:
            log.info(
                "address freed host=%s segment=%s address=%s instance=%s gone_since=%s",
                host,
                lease.segment,
                lease.address,
                lease.holder.instance,
                since.isoformat(timespec="seconds"),
            )
        return int(freed)

    def _gone_since(self, known: Known) -> tuple[datetime, str]:
        """The earliest sighting recorded in etcd (by any collector), else our own."""
        record = known.record
        if record.absent_since is not None:
            return record.absent_since, record.observed_by or "?"
        return self._absent[record.host], self._host
