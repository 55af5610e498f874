"""The IPAM parts a process needs, made from settings values by the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.clock import Clock
from dockyard.network.etcd import DEFAULT_TIMEOUT_S, Etcd
from dockyard.network.ipam.addresses import AddressBook
from dockyard.network.ipam.directory import Directory
from dockyard.network.ipam.hosts import HostRegistry
from dockyard.network.ipam.records import Keys


@dataclass(frozen=True)
class Ipam:
    """One etcd connection with the address book and the segment directory over it.

    Made outside any event loop is fine: the connection opens on first use, in the loop that
    uses it, and must be used from that loop only.
    """

    etcd: Etcd
    book: AddressBook
    directory: Directory
    hosts: HostRegistry
    """Which hosts' agents are alive (hosts.py)."""

    @classmethod
    def connect(
        cls,
        endpoints: Sequence[str],
        *,
        prefix: str,
        clock: Clock,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Ipam:
        etcd = Etcd(endpoints, timeout_s=timeout_s)
        keys = Keys(prefix)
        return cls(
            etcd=etcd,
            book=AddressBook(etcd, keys=keys, clock=clock),
            directory=Directory(etcd, keys=keys),
            hosts=HostRegistry(etcd, keys=keys, clock=clock),
        )

    async def close(self) -> None:
        await self.etcd.close()
