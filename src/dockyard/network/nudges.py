"""Nudges: a server that does not lead tells the leader's controllers about a change at once.

Controllers run only on the leader (network/leader.py), but every server's API and builder take
work. A change made on a standby is in the database at once, yet the leader's controllers would
see it only at their next resync (DOCKYARD_RESYNC_INTERVAL_S, 10 s by default). So the standby
puts the controller key (`SERVICE_ID/ENV`) to one etcd key, `PREFIX/nudge`, and the leader
watches it and queues every key it is told, as its own API would. One key, rewritten: etcd
keeps nothing that grows, and a watch still sees every write.

A nudge lost on the way (etcd away, a leader changing hands) costs only that latency: the
resync still comes, and the database is the only truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import aetcd

from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError
from dockyard.domain.status import EnvKey
from dockyard.network.etcd import Etcd

log = logging.getLogger(__name__)
RETRY_S = 1.0
MAX_IN_FLIGHT = 64
"""Nudges being sent at once; more are dropped (the resync catches them)."""


def encode(key: EnvKey) -> bytes:
    return str(key).encode()


def decode(raw: bytes) -> EnvKey | None:
    """The key a nudge names; None for anything else (it is ignored). Pure."""
    service, _, env = raw.decode(errors="replace").partition("/")
    try:
        return EnvKey(service_id=int(service), env=Environment(env))
    except ValueError:
        return None


class Nudges:
    """Sends and receives nudges under `prefix` on `etcd` (a connection of its own)."""

    def __init__(self, etcd: Etcd, *, prefix: str) -> None:
        self._etcd = etcd
        self.key = f"{prefix}/nudge"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.watching = False
        """True while `receive` watches the key: from then on no nudge is missed."""

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop nudges are sent from (the server's)."""
        self._loop = loop

    def send_soon(self, key: EnvKey) -> None:
        """Nudge the leader about `key`. Safe from any thread; never blocks, never raises."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._start, key)

    def _start(self, key: EnvKey) -> None:
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            return
        task = asyncio.ensure_future(self._send(key))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, key: EnvKey) -> None:
        try:
            await self._etcd.put(self.key, encode(key))
        except DockyardError as exc:
            log.info("nudge for %s not sent (the leader's resync will see it): %s", key, exc)

    async def receive(self, on_key: Callable[[EnvKey], None]) -> None:
        """Call `on_key` for every nudge sent from now on, until cancelled (the leader's
        term). The watch resumes after the last revision it saw, so an etcd restart or a
        lost connection loses nothing sent meanwhile (unless etcd compacted it away)."""
        seen: int | None = None
        while True:
            try:
                if seen is None:
                    seen = await self._revision_now()
                async for revision, key in self._watch(after=seen):
                    seen = revision
                    if key is not None:
                        on_key(key)
            except aetcd.exceptions.RevisionCompactedError:
                seen = None  # what was missed is gone: from now on (the resync covers it)
            except (aetcd.exceptions.ClientError, OSError, TimeoutError, DockyardError) as exc:
                log.info("nudges not received for now (etcd: %s); retrying", exc)
                await self._etcd.close()  # connect afresh
            finally:
                self.watching = False
            await asyncio.sleep(RETRY_S)

    async def _revision_now(self) -> int:
        """The key's last revision; the key is written first if it is absent."""
        found = await self._etcd.get(self.key)
        if found is None:
            await self._etcd.put(self.key, b"")  # no controller key: receivers ignore it
            found = await self._etcd.get(self.key)
        return found.mod_revision if found is not None else 0

    async def _watch(self, *, after: int) -> AsyncIterator[tuple[int, EnvKey | None]]:
        """(revision, key) of every write to the key after revision `after`."""
        client = await self._etcd.client()
        watch = await client.watch(self.key.encode(), start_revision=after + 1)
        self.watching = True
        try:
            async for event in watch:
                yield int(event.kv.mod_revision), decode(bytes(event.kv.value))
        finally:
            with contextlib.suppress(Exception):  # a broken channel cannot cancel
                await watch.cancel()

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._etcd.close()
