"""Watching every service environment's endpoints at once, for the all-services feed.

Like discovery/watch.py, a change is learnt from the database by polling, and one poller per
process serves every follower (each host's DNS names and load balancer follow one feed): it
reads a cheap stamp of the services and addressed instances every `interval_s`, and only when
the stamp moved reads the snapshot again, once for all followers. It runs only while someone
follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from dockyard.discovery.endpoints import serves
from dockyard.discovery.snapshot import Snapshot, snapshot_of
from dockyard.discovery.watch import ERROR_BACKOFF_S, POLL_INTERVAL_S, log
from dockyard.domain.errors import DockyardError
from dockyard.domain.spec import Port
from dockyard.domain.status import EnvKey
from dockyard.store.db import Database
from dockyard.store.endpoints import (
    addressed_instances,
    catalog_stamp,
    live_services,
    revision_ports,
)


class SnapshotWatch:
    """Reads and follows the snapshot of every live service. One per process."""

    def __init__(self, db: Database, *, interval_s: float = POLL_INTERVAL_S) -> None:
        self._db = db
        self._interval_s = interval_s
        self._followers = 0
        self._poller: asyncio.Task[None] | None = None
        self._stamp: str | None = None
        self._current: Snapshot | None = None
        self._next = asyncio.Event()
        """Set (and replaced) by the poller at each change of the snapshot."""
        self._ports: dict[tuple[EnvKey, int], tuple[Port, ...]] = {}

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def read(self) -> Snapshot:
        """The current snapshot (blocking: run it in a thread from async code)."""
        with self._db.reading() as reader:
            services = live_services(reader)
            found = addressed_instances(reader)
            # Releases never change: a revision's ports are read once per process.
            for key, records in found.items():
                missing = {r.revision for r in records if serves(r)}
                missing = {n for n in missing if (key, n) not in self._ports}
                for number, ports in revision_ports(reader, key, missing).items():
                    self._ports[(key, number)] = ports
        return snapshot_of(services, found, self._ports)

    async def follow(self, *, since: str | None) -> AsyncGenerator[Snapshot, None]:
        """The current snapshot unless its version is `since`, then each changed one, for as
        long as the caller iterates. Raises what `read` raises for the first one; later
        outages are the poller's (logged, retried): followers hear nothing until it reads."""
        self._followers += 1
        if not self.polling:
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        last = since
        try:
            while True:
                woken = self._next  # before the read: a change after it sets this one
                current = self._current
                if current is None:
                    current = await asyncio.to_thread(self.read)
                if current.version != last:
                    last = current.version
                    yield current
                await woken.wait()
        finally:
            self._followers -= 1

    async def _poll(self) -> None:
        """Until nobody follows: read the stamp, and the snapshot when the stamp moved."""
        try:
            while self._followers:
                try:
                    await self._look()
                except DockyardError as exc:
                    log.warning("endpoint snapshot poll failed: %s", exc.message)
                    await asyncio.sleep(ERROR_BACKOFF_S)
                    continue
                await asyncio.sleep(self._interval_s)
        finally:
            # Nobody follows: a later follower must not be given what is stale by then.
            self._stamp = self._current = None

    async def _look(self) -> None:
        stamp = await asyncio.to_thread(self._read_stamp)
        if stamp == self._stamp:
            return
        current = await asyncio.to_thread(self.read)
        self._stamp, self._current = stamp, current
        woken, self._next = self._next, asyncio.Event()
        woken.set()

    def _read_stamp(self) -> str:
        with self._db.reading() as reader:
            return catalog_stamp(reader)
