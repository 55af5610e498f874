"""The etcd connection IPAM keeps its state in: a thin, typed shell over aetcd (async gRPC).

Only the few verbs IPAM needs, each one round trip: read a key or a prefix, create a key only if
absent, replace or delete a key only if it still has the revision the caller read, all inside
one etcd transaction, never a lock held across the network. Every aetcd/gRPC failure is
translated here, once, into `Unavailable` (retry later; never a crash), and a write whose
answer was lost into its subclass `OutcomeUnknown`, so callers re-read instead of retrying
blindly. With several endpoints, a failure moves the next call on to the next endpoint.

Why aetcd and not `etcd3`: etcd3 0.12 does not import with protobuf >= 4 (REFERENCE.md); aetcd
1.0 imports, speaks the v3 API with transactions on create/mod revision, and reconnects after
an etcd restart (checked against Debian's etcd 3.4 here).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aetcd
import aetcd.exceptions

from dockyard.domain.errors import Invalid, Unavailable

log = logging.getLogger("dockyard.network.etcd")

DEFAULT_TIMEOUT_S = 2.0


class OutcomeUnknown(Unavailable):
    """A write was sent but its answer was lost (timeout, broken connection): it may or may not
    have been applied. Re-read the key before deciding anything."""


@dataclass(frozen=True)
class Entry:
    """One key as etcd holds it."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True)
class Put:
    """A key to write as part of a transaction's success branch."""

    key: str
    value: bytes


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """http://HOST:PORT (or HOST:PORT) -> (host, port); Invalid for anything else."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise Invalid(
            f"etcd endpoint {endpoint!r} is not http://HOST:PORT (TLS endpoints are not "
            "supported yet)",
            field="etcd_endpoints",
        )
    return parts.hostname, parts.port or 2379


class Etcd:
    """A client of one etcd cluster given by its endpoints. Safe for concurrent use on one loop.

    Not thread-safe across event loops: each loop (each process) makes its own.
    """

    def __init__(
        self, endpoints: Sequence[str], *, timeout_s: float = DEFAULT_TIMEOUT_S, user: str = "IPAM"
    ) -> None:
        """`user` names what needs etcd, at the start of every failure's message (the runtime
        and the portal recognise "IPAM unavailable")."""
        if not endpoints:
            raise Invalid("no etcd endpoint given", field="etcd_endpoints")
        self.endpoints = tuple(endpoints)
        self._addresses = [parse_endpoint(endpoint) for endpoint in self.endpoints]
        self._timeout_s = timeout_s
        self._user = user
        self._current = 0
        self._client: aetcd.Client | None = None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken channel must not fail
                await client.close()

    # -- reads ---------------------------------------------------------------------------

    async def get(self, key: str) -> Entry | None:
        """The key, or None if absent. Unavailable if etcd does not answer."""
        async with self._errors(f"read {key}", write=False) as client:
            found = await client.get(key.encode())
        return None if found is None else _entry(found)

    async def get_prefix(self, prefix: str) -> list[Entry]:
        """Every key under `prefix`, in key order. Unavailable if etcd does not answer."""
        async with self._errors(f"read {prefix}*", write=False) as client:
            found = await client.get_prefix(prefix.encode())
        return [_entry(item) for item in found]

    # -- writes, each one transaction ----------------------------------------------------

    async def create(
        self, key: str, value: bytes, *, also: Sequence[Put] = (), lease: int | None = None
    ) -> tuple[bool, Entry]:
        """Create `key` (and write `also`) only if `key` is absent; with `lease`, `key` (not
        `also`) is deleted by etcd when that lease ends.

        Returns (True, the new entry) if created, else (False, the entry already there) and
        nothing is written. OutcomeUnknown if the answer was lost: the key may be ours or not.
        """
        async with self._errors(f"create {key}", write=True) as client:
            txn = client.transactions
            ok, responses = await client.transaction(
                compare=[txn.create(key.encode()) == 0],
                success=[txn.put(key.encode(), value, lease=lease), *_puts(txn, also)],
                failure=[txn.get(key.encode())],
            )
        if ok:
            revision = int(responses[0].response_put.header.revision)
            return True, Entry(key, value, revision, revision)
        found = responses[0]
        if not found:  # deleted between the compare and the read: report a zero revision
            return False, Entry(key, b"", 0, 0)
        return False, _entry(found[0][1])

    async def replace(
        self, key: str, value: bytes, *, mod_revision: int, also: Sequence[Put] = ()
    ) -> bool:
        """Overwrite `key` only if it still has `mod_revision`. True if written."""
        async with self._errors(f"update {key}", write=True) as client:
            txn = client.transactions
            ok, _ = await client.transaction(
                compare=[txn.mod(key.encode()) == mod_revision],
                success=[txn.put(key.encode(), value), *_puts(txn, also)],
                failure=[],
            )
        return bool(ok)

    async def delete(
        self,
        key: str,
        *,
        mod_revision: int,
        also: Sequence[Put] = (),
        absent: Sequence[str] = (),
    ) -> bool:
        """Delete `key` (and write `also`) only if it still has `mod_revision` and every key
        in `absent` is absent, all in one transaction. True if done."""
        async with self._errors(f"delete {key}", write=True) as client:
            txn = client.transactions
            ok, _ = await client.transaction(
                compare=[
                    txn.mod(key.encode()) == mod_revision,
                    *(txn.create(other.encode()) == 0 for other in absent),
                ],
                success=[txn.delete(key.encode()), *_puts(txn, also)],
                failure=[],
            )
        return bool(ok)

    async def put(self, key: str, value: bytes, *, lease: int | None = None) -> None:
        """Write `key` unconditionally (configuration mirrored from the database); with
        `lease`, the key is deleted by etcd when that lease expires."""
        async with self._errors(f"write {key}", write=True) as client:
            await client.put(key.encode(), value, lease=lease)

    async def delete_key(self, key: str) -> None:
        """Delete `key` unconditionally; absent keys succeed."""
        async with self._errors(f"delete {key}", write=True) as client:
            await client.delete(key.encode())

    # -- leases: keys that live only while their owner keeps refreshing them ------------

    async def grant(self, ttl_s: int) -> int:
        """A new lease of `ttl_s` seconds (etcd may round a tiny TTL up); its id."""
        async with self._errors("grant a lease", write=True) as client:
            lease = await client.lease(ttl_s)
        return int(lease.id)

    async def keep_alive(self, lease: int) -> int:
        """Refresh `lease`; its TTL in seconds now, 0 if it has expired (its keys are gone)."""
        async with self._errors(f"refresh lease {lease:x}", write=False) as client:
            reply = await client.refresh_lease(lease)
        return max(int(reply.TTL), 0) if reply is not None else 0

    async def revoke(self, lease: int) -> None:
        """End `lease` now, deleting its keys."""
        async with self._errors(f"revoke lease {lease:x}", write=True) as client:
            await client.revoke_lease(lease)

    # -- connection ----------------------------------------------------------------------

    async def client(self) -> aetcd.Client:
        """The connected client itself, for what this class does not wrap (watches); after
        a failure of it, `close()` so that the next call connects afresh."""
        return await self._connected()

    @contextlib.asynccontextmanager
    async def _errors(self, action: str, *, write: bool) -> AsyncIterator[aetcd.Client]:
        """Yield a connected client; translate its failures; move to the next endpoint on one."""
        endpoint = self.endpoints[self._current]
        try:
            yield await self._connected()
        except (TimeoutError, aetcd.exceptions.ClientError, OSError) as exc:
            await self._next_endpoint()
            lost = write and not isinstance(exc, aetcd.exceptions.InvalidArgumentError)
            kind = OutcomeUnknown if lost else Unavailable
            raise kind(
                f"{self._user} unavailable: etcd at {endpoint} did not {action}: {_reason(exc)}; "
                "it is retried when etcd answers again"
            ) from exc

    async def _connected(self) -> aetcd.Client:
        if self._client is None:
            host, port = self._addresses[self._current]
            # aetcd types its timeout as int, gRPC takes any number of seconds.
            timeout: Any = self._timeout_s
            self._client = aetcd.Client(host=host, port=port, timeout=timeout)
        return self._client

    async def _next_endpoint(self) -> None:
        if len(self.endpoints) > 1:
            await self.close()
            self._current = (self._current + 1) % len(self.endpoints)


def _entry(found: Any) -> Entry:
    return Entry(
        key=bytes(found.key).decode(),
        value=bytes(found.value),
        create_revision=int(found.create_revision),
        mod_revision=int(found.mod_revision),
    )


def _puts(txn: Any, puts: Sequence[Put]) -> list[Any]:
    return [txn.put(put.key.encode(), put.value) for put in puts]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
