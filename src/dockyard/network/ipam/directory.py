"""Segment configuration as agents and the CNI plugin read it: mirrored from the database to etcd.

The database is the source of truth (the admin edits segments through the API); the server
publishes each segment, with its fixed addresses, to one etcd key whenever it changes and at
start, so hosts that reach only etcd (Docker agents, Kubernetes nodes) allocate with the same
rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address

from dockyard.domain.errors import NotFound
from dockyard.domain.segment import FixedAddress, Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam.allocator import Pool
from dockyard.network.ipam.records import Keys, segment_from_json, segment_to_json


def pool_of(segment: Segment, fixed: Iterable[FixedAddress]) -> Pool:
    """The allocator's view: the segment, with every fixed address in it kept aside."""
    return Pool(segment, fixed=frozenset(item.address for item in fixed))


def wanted_for(
    fixed: Sequence[FixedAddress], *, team: str | None, service: str | None, env: str | None
) -> list[IPv4Address]:
    """The fixed addresses of one service in one environment, in address order."""
    return sorted(
        item.address
        for item in fixed
        if item.team == team and item.service == service and item.env.value == env
    )


class Directory:
    """Reads and writes segment configuration keys."""

    def __init__(self, etcd: Etcd, *, keys: Keys) -> None:
        self._etcd = etcd
        self._keys = keys

    async def publish(self, segment: Segment, fixed: Sequence[FixedAddress]) -> None:
        """Write the segment's configuration. Unavailable if etcd does not answer."""
        await self._etcd.put(
            self._keys.segment(segment.name), segment_to_json(segment, list(fixed))
        )

    async def withdraw(self, name: str) -> None:
        await self._etcd.delete_key(self._keys.segment(name))

    async def load(self, name: str) -> tuple[Segment, list[FixedAddress]]:
        """The segment's configuration; NotFound if it was never published (or withdrawn)."""
        found = await self._etcd.get(self._keys.segment(name))
        if found is None:
            raise NotFound(
                f"segment {name!r} is not configured in etcd: create it with `dockyard "
                "segments create`; a server publishes the segments it knows within its "
                "resync interval (DOCKYARD_RESYNC_INTERVAL_S)",
                field="segment",
            )
        return segment_from_json(found.value)

    async def published(self) -> dict[str, bytes]:
        """Each published segment's name and configuration as etcd holds it."""
        entries = await self._etcd.get_prefix(self._keys.segments)
        return {segment_from_json(e.value)[0].name: e.value for e in entries}

    async def load_all(self) -> list[tuple[Segment, list[FixedAddress]]]:
        entries = await self._etcd.get_prefix(self._keys.segments)
        return [segment_from_json(entry.value) for entry in entries]
