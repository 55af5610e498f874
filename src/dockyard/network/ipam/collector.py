"""Garbage collection of addresses: which held addresses to free. Pure: time, the runtime's
endpoints and the hosts' liveness are passed in.

`judge`: addresses of this host.

An address is in use while any endpoint on this host's segment network has it, or while its
recorded container still has an endpoint there: such an address is never released, whatever
its holder record says (releasing a live address is Calico #5044; an endpoint is the ground
truth, a record only a claim). Otherwise it is missing; once it has been missing for the whole
grace period in a row, it is released. The grace period covers the moment between Docker's
RequestAddress and the endpoint appearing, and a container restarting.

The other way round, an endpoint here whose address no key holds (this host was cut off from
etcd for longer than the other agents' host grace period, and they freed its addresses) is
held again, create-if-absent, once it has been seen unheld for the grace period (never at the
first sighting: Docker may be releasing it). An endpoint whose address another host holds is a
duplicate nobody can fix by a key: it is reported, never taken.

`judge_hosts`: addresses of other hosts whose agent is gone (network/ipam/hosts.py). A host
whose alive key exists is never judged, however old its records; nor one that never
registered (an agent from before liveness existed). Absence is counted on the collector's own
clock from its own first sighting, so clocks of different hosts never meet, and a collector
that restarts counts again from zero (later, never sooner). A collector whose own alive key
is missing judges nobody: its view of etcd is not to be trusted (it may be the one cut off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Address

from dockyard.network.ipam.records import Lease

MissingSince = dict[tuple[str, IPv4Address, int], datetime]
"""(segment, address, key revision) -> when it was first seen without an endpoint."""

UnheldSince = dict[tuple[str, IPv4Address], datetime]
"""(segment, address) -> when an endpoint here was first seen using it with no key holding it."""


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
    adopt: list[Endpoint] = field(default_factory=list)
    """Used here, held by nobody for the grace period: hold it again (create-if-absent)."""
    unheld_since: UnheldSince = field(default_factory=dict)
    """Carry over to the next pass."""
    duplicates: list[tuple[Endpoint, Lease]] = field(default_factory=list)
    """Used here but held for another host: two users of one address (say so loudly)."""


def judge(
    leases: Sequence[Lease],
    endpoints: Sequence[Endpoint],
    *,
    host: str,
    missing_since: Mapping[tuple[str, IPv4Address, int], datetime],
    now: datetime,
    grace: timedelta,
    segment: str | None = None,
    unheld_since: Mapping[tuple[str, IPv4Address], datetime] | None = None,
) -> Verdict:
    """What to do about this host's Docker-held `leases` (given with every other lease of the
    segment), given the segment's `endpoints` here. Endpoints whose address nobody holds are
    judged only when `segment` is given."""
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
    if segment is not None:
        _judge_endpoints(
            verdict,
            leases,
            endpoints,
            host=host,
            segment=segment,
            since=unheld_since or {},
            now=now,
            grace=grace,
        )
    return verdict


def _judge_endpoints(
    verdict: Verdict,
    leases: Sequence[Lease],
    endpoints: Sequence[Endpoint],
    *,
    host: str,
    segment: str,
    since: Mapping[tuple[str, IPv4Address], datetime],
    now: datetime,
    grace: timedelta,
) -> None:
    held = {lease.address: lease for lease in leases}
    for endpoint in endpoints:
        lease = held.get(endpoint.address)
        if lease is not None:
            if lease.holder.host != host:
                verdict.duplicates.append((endpoint, lease))
            continue
        key = (segment, endpoint.address)
        first = since.get(key, now)
        verdict.unheld_since[key] = first
        if now - first >= grace:
            verdict.adopt.append(endpoint)


AbsentSince = dict[str, datetime]
"""host -> when this collector first found its alive key absent (on its own clock)."""


@dataclass(frozen=True)
class HostVerdict:
    release: list[Lease] = field(default_factory=list)
    """Docker-held addresses of hosts absent for the whole grace period."""
    absent_since: AbsentSince = field(default_factory=dict)
    """Every registered host found absent, and since when: carry over to the next pass."""
    newly_absent: list[str] = field(default_factory=list)
    """Hosts first found absent in this pass (to record in their known record)."""


def judge_hosts(
    leases: Sequence[Lease],
    *,
    alive: Set[str],
    registered: Set[str],
    me: str,
    absent_since: Mapping[str, datetime],
    now: datetime,
    grace: timedelta,
) -> HostVerdict:
    """Which `leases` to free because their host's agent has been gone for `grace`."""
    if me not in alive:
        return HostVerdict()  # our own key is missing: we may be the one cut off
    verdict = HostVerdict()
    for host in sorted(registered - alive - {me}):
        since = absent_since.get(host)
        if since is None:
            since = now
            verdict.newly_absent.append(host)
        verdict.absent_since[host] = since
    gone = {host for host, since in verdict.absent_since.items() if now - since >= grace}
    verdict.release.extend(
        lease for lease in leases if lease.holder.kind == "docker" and lease.holder.host in gone
    )
    return verdict
