"""Global IPAM: instance addresses from the company's network segments, kept in etcd.

Never a duplicate (one key per address, created only if absent), never a leak (every holder is
recorded, and addresses of holders that are gone are collected after a grace period), never a
crash on an etcd error (`Unavailable`, and the caller waits).

- allocator.py: the pure decision, which free address next (tables in tests/unit/network).
- records.py: the key layout and JSON values in etcd; directory.py: segment configuration.
- addresses.py: the etcd adapter (allocate, release, history) over network/etcd.py.
- docker_driver.py: the Docker remote IPAM driver the agent serves; cni.py: `dockyard-ipam`.
- collector.py: garbage collection of addresses whose owner is gone.
"""

from dockyard.network.ipam.addresses import AddressBook
from dockyard.network.ipam.allocator import Pool, SegmentExhausted, Usage, choose, usage
from dockyard.network.ipam.directory import Directory, pool_of, wanted_for
from dockyard.network.ipam.records import HistoryRecord, Holder, Keys, Lease

__all__ = [
    "AddressBook",
    "Directory",
    "HistoryRecord",
    "Holder",
    "Keys",
    "Lease",
    "Pool",
    "SegmentExhausted",
    "Usage",
    "choose",
    "pool_of",
    "usage",
    "wanted_for",
]
