"""Host liveness in etcd: which hosts' agents are alive, so addresses of dead hosts can be freed.

Each agent keeps two keys for its host (layout in records.py):
- `hosts/alive/HOST`, bound to an etcd lease the agent refreshes well within its TTL: etcd itself
  deletes it when the agent (or its host) stops refreshing. Its presence is the only proof of
  life anyone trusts; it is never written by anyone but that host's agent.
- `hosts/known/HOST`, kept: the host's last registration (version, started, registered). A
  host collector that first finds the alive key absent writes `absent_since` into it (for the
  hosts view and the history); the host's next registration overwrites it.

Only a host with a `known` record is ever judged gone: an agent from before liveness existed
(or a record naming no real host) never registers, and its addresses are never freed by this.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dockyard.domain.clock import Clock
from dockyard.domain.errors import Invalid
from dockyard.network.etcd import Etcd
from dockyard.network.ipam.records import Keys, Lease


@dataclass(frozen=True)
class HostRecord:
    """A host's registration, as its agent last wrote it."""

    host: str
    version: str
    started: datetime
    """When the agent process started."""
    registered: datetime
    """When it last (re-)registered: at start, and after its lease was lost."""
    absent_since: datetime | None = None
    """When a collector first found its alive key absent; None while none has."""
    observed_by: str | None = None
    """The host whose collector wrote `absent_since`."""

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "host": self.host,
            "version": self.version,
            "started": self.started.isoformat(),
            "registered": self.registered.isoformat(),
        }
        if self.absent_since is not None:
            data["absent_since"] = self.absent_since.isoformat()
            data["observed_by"] = self.observed_by
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> HostRecord:
        """Raises Invalid if the value is not a host record."""
        try:
            data = json.loads(raw)
            absent = data.get("absent_since")
            return cls(
                host=str(data["host"]),
                version=str(data["version"]),
                started=datetime.fromisoformat(data["started"]),
                registered=datetime.fromisoformat(data["registered"]),
                absent_since=None if absent is None else datetime.fromisoformat(absent),
                observed_by=data.get("observed_by"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"a stored host record is unreadable: {exc}") from None


@dataclass(frozen=True)
class Known:
    """A `known` record with the revision a conditional update must compare."""

    record: HostRecord
    revision: int


class HostRegistry:
    """Reads and writes the liveness keys. Every etcd failure is `Unavailable` (etcd.py)."""

    def __init__(self, etcd: Etcd, *, keys: Keys, clock: Clock) -> None:
        self._etcd = etcd
        self.keys = keys
        self._clock = clock

    async def register(self, *, host: str, version: str, started: datetime, ttl_s: int) -> int:
        """Record `host` as alive under a new lease of `ttl_s` seconds; the lease id.

        After success the alive key exists until the lease expires (keep it with `refresh`);
        the known record says when. After a failure the old state may be half written: call
        again (both writes are idempotent).
        """
        record = HostRecord(host, version, started=started, registered=self._clock())
        await self._etcd.put(self.keys.host_known(host), record.to_json())
        lease = await self._etcd.grant(ttl_s)
        alive = {"host": host, "version": version, "started": started.isoformat()}
        await self._etcd.put(
            self.keys.host_alive(host), json.dumps(alive, sort_keys=True).encode(), lease=lease
        )
        return lease

    async def refresh(self, lease: int) -> bool:
        """Keep `lease` alive; False if it had already expired (register again)."""
        return await self._etcd.keep_alive(lease) > 0

    async def alive(self) -> set[str]:
        """The hosts whose alive key exists now."""
        entries = await self._etcd.get_prefix(self.keys.hosts_alive)
        return {entry.key.removeprefix(self.keys.hosts_alive) for entry in entries}

    async def known(self) -> dict[str, Known]:
        """Every host that ever registered, by name (unreadable records are skipped)."""
        found: dict[str, Known] = {}
        for entry in await self._etcd.get_prefix(self.keys.hosts_known):
            try:
                record = HostRecord.from_json(entry.value)
            except Invalid:
                continue  # one bad key must not stop the collector
            found[entry.key.removeprefix(self.keys.hosts_known)] = Known(record, entry.mod_revision)
        return found

    async def mark_absent(self, known: Known, *, since: datetime, by: str) -> bool:
        """Write when the host was first found absent, unless its record changed (it
        re-registered, or another collector wrote it first). True if written."""
        if known.record.absent_since is not None:
            return False
        record = replace(known.record, absent_since=since, observed_by=by)
        return await self._etcd.replace(
            self.keys.host_known(record.host), record.to_json(), mod_revision=known.revision
        )


@dataclass(frozen=True)
class HostView:
    """One host as `dockyard ipam hosts` shows it."""

    host: str
    alive: bool
    record: HostRecord | None
    """None: never registered (an agent from before liveness; never judged gone)."""
    addresses: int
    """Addresses held in its name now, of any kind."""


def host_views(
    leases: Sequence[Lease], *, alive: Set[str], known: Mapping[str, Known]
) -> list[HostView]:
    """Every host that holds an address, is alive or ever registered, by name. Pure."""
    held = Counter(lease.holder.host for lease in leases)
    names = sorted(set(held) | set(alive) | set(known))
    return [
        HostView(
            host=name,
            alive=name in alive,
            record=known[name].record if name in known else None,
            addresses=held[name],
        )
        for name in names
    ]
