"""Garbage collection of addresses: which held addresses of this host to free. Pure: time and
the runtime's endpoints are passed in.

An address is in use while any endpoint on this host's segment network has it, or while its
recorded container still has an endpoint there: such an address is never released, whatever
its holder record says (releasing a live address is Calico #5044; an endpoint is the ground
truth, a record only a claim). Otherwise it is missing; once it has been missing for the whole
grace period in a row, it is released. The grace period covers the moment between Docker's
RequestAddress and the endpoint appearing, and a container restarting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Address

from dockyard.network.ipam.records import Lease

MissingSince = dict[tuple[str, IPv4Address, int], datetime]
"""(segment, address, key revision) -> when it was first seen without an endpoint."""


@dataclass(frozen=True)
class Endpoint:
    container: str
    address: IPv4Address
    mac: str


@dataclass(frozen=True)
class Verdict:
    release: list[Lease] = field(default_factory=list)
    """Held for longer than the grace period by nobody with an endpoint here."""
    bind: list[tuple[Lease, str]] = field(default_factory=list)
    """In use by a container the record does not name yet: record it (lease, container id)."""
    missing_since: MissingSince = field(default_factory=dict)
    """Carry over to the next pass."""


def judge(
    leases: Sequence[Lease],
    endpoints: Sequence[Endpoint],
    *,
    host: str,
    missing_since: Mapping[tuple[str, IPv4Address, int], datetime],
    now: datetime,
    grace: timedelta,
) -> Verdict:
    """What to do about this host's Docker-held `leases`, given the segment's `endpoints`."""
    by_address = {endpoint.address: endpoint for endpoint in endpoints}
    containers = {endpoint.container for endpoint in endpoints}
    verdict = Verdict()
    for lease in leases:
        holder = lease.holder
        if holder.host != host or holder.kind != "docker":
            continue  # another host's, or the CNI plugin's: judged where they live
        endpoint = by_address.get(lease.address)
        if endpoint is not None:
            if holder.container != endpoint.container:
                verdict.bind.append((lease, endpoint.container))
            continue
        if holder.container in containers:
            continue  # its container is here (e.g. moving between endpoints): keep it
        key = (lease.segment, lease.address, lease.revision)
        since = missing_since.get(key, now)
        if now - since >= grace:
            verdict.release.append(lease)
        else:
            verdict.missing_since[key] = since
    return verdict
