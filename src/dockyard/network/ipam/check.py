"""`dockyard ipam check`: held addresses in etcd compared with the instances runtimes report.

Pure: the caller reads the leases (etcd) and the instances the controllers last observed in
the runtimes (database), and prints what this finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from dockyard.domain.segment import Segment
from dockyard.network.ipam.records import Lease


@dataclass(frozen=True)
class SeenInstance:
    """An instance as the controllers last saw it in its runtime."""

    instance: str
    team: str
    service: str
    env: str
    ip: IPv4Address | None


@dataclass(frozen=True)
class Finding:
    kind: str
    """"leak": held for an owner no runtime reports; "unrecorded": an instance uses a segment
    address nobody holds; "mismatch": holder and runtime disagree on the address."""
    address: IPv4Address
    segment: str | None
    detail: str

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": str(self.address),
            "segment": self.segment,
            "detail": self.detail,
        }


def compare(
    leases: Sequence[Lease], seen: Sequence[SeenInstance], segments: Sequence[Segment]
) -> list[Finding]:
    """Every disagreement between etcd and the runtimes, by address."""
    by_instance = {item.instance: item for item in seen}
    held = {lease.address: lease for lease in leases}
    findings = []
    for lease in leases:
        holder = lease.holder
        if holder.kind != "docker":
            continue  # CNI and manual holders are judged by their own runtime, not ours
        instance = by_instance.get(holder.instance or "")
        if instance is None:
            findings.append(
                Finding(
                    "leak",
                    lease.address,
                    lease.segment,
                    f"held for instance {holder.instance or '?'} (container "
                    f"{(holder.container or '?')[:12]}, host {holder.host}) that no runtime "
                    "reports; the agent's collector frees it after its grace period, or "
                    "`dockyard ipam release` now",
                )
            )
        elif instance.ip is not None and instance.ip != lease.address:
            findings.append(
                Finding(
                    "mismatch",
                    lease.address,
                    lease.segment,
                    f"held for instance {instance.instance}, which runs with {instance.ip}",
                )
            )
    for instance in seen:
        segment = next((s for s in segments if instance.ip and instance.ip in s.cidr), None)
        if instance.ip is None or segment is None or instance.ip in held:
            continue
        findings.append(
            Finding(
                "unrecorded",
                instance.ip,
                segment.name,
                f"instance {instance.instance} ({instance.team}/{instance.service} "
                f"{instance.env}) uses it but etcd records no holder",
            )
        )
    return sorted(findings, key=lambda finding: finding.address)
