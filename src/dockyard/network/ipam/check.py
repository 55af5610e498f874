"""`dockyard ipam check`: held addresses in etcd compared with the instances the runtime
reports now.

Pure: the caller reads the leases (etcd) and the runtime's instances (the runtime's own list,
read at the moment of the check, not what a controller last recorded), and prints what this
finds. Every finding says what etcd holds and what the runtime reports, side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from dockyard.domain.instance import Observed, RunState
from dockyard.domain.segment import Segment
from dockyard.network.ipam.records import Holder, Lease


@dataclass(frozen=True)
class SeenInstance:
    """An instance as its runtime reports it now."""

    instance: str
    team: str
    service: str
    env: str
    ip: IPv4Address | None
    """Its address; None while it is not running (a stopped container has none)."""
    container: str | None = None
    """The runtime's id of it (the Docker container id)."""
    state: str = "running"

    @classmethod
    def of(cls, observed: Observed) -> SeenInstance:
        running = observed.state is RunState.RUNNING
        return cls(
            instance=observed.instance_id,
            team=observed.team,
            service=observed.service,
            env=observed.env.value,
            ip=IPv4Address(observed.ip) if running and observed.ip else None,
            container=observed.runtime_id or None,
            state=observed.state.value,
        )

    def describe(self) -> str:
        return f"instance {self.instance} ({self.team}/{self.service} {self.env})"


@dataclass(frozen=True)
class Finding:
    kind: str
    """"leak": held for an owner the runtime does not report (or reports without an address);
    "unrecorded": an instance uses a segment address nobody holds; "mismatch": etcd and the
    runtime disagree on who has the address (held for one, used by another or not at all)."""
    address: IPv4Address
    segment: str | None
    etcd: str
    """What etcd holds for the address."""
    runtime: str
    """What the runtime reports."""
    advice: str

    @property
    def detail(self) -> str:
        return f"etcd: {self.etcd}; runtime: {self.runtime}; {self.advice}"

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": str(self.address),
            "segment": self.segment,
            "etcd": self.etcd,
            "runtime": self.runtime,
            "detail": self.detail,
        }


_LEAK_ADVICE = (
    "the agent's collector frees it after its grace period, or `dockyard ipam release` now"
)
_UNRECORDED_ADVICE = "another instance may be given it: restart the instance to get a held one"
_MISMATCH_ADVICE = "restart the instance; the collector then frees what nobody uses"


def compare(
    leases: Sequence[Lease], seen: Sequence[SeenInstance], segments: Sequence[Segment]
) -> list[Finding]:
    """Every disagreement between etcd and the runtime, by address (one finding per address
    and kind). Only Docker-held leases are judged: the CNI plugin's and manual holders
    belong to other runtimes."""
    findings: dict[tuple[str, IPv4Address], Finding] = {}
    for lease in leases:
        if lease.holder.kind == "docker":
            found = _judge_lease(lease, _holding(lease.holder, seen))
            if found is not None:
                findings.setdefault((found.kind, found.address), found)
    held = {lease.address: lease for lease in leases}
    for instance in seen:
        segment = next((s for s in segments if instance.ip and instance.ip in s.cidr), None)
        if instance.ip is None or segment is None:
            continue
        found = _judge_use(instance, held.get(instance.ip), segment.name)
        if found is not None:
            findings.setdefault((found.kind, found.address), found)
    return sorted(findings.values(), key=lambda finding: (finding.address, finding.kind))


def _holding(holder: Holder, seen: Sequence[SeenInstance]) -> SeenInstance | None:
    """The instance a holder names: by instance id, else by container id."""
    if holder.instance:
        return next((item for item in seen if item.instance == holder.instance), None)
    if holder.container:
        return next((item for item in seen if item.container == holder.container), None)
    return None


def _held_for(holder: Holder) -> str:
    container = (holder.container or "?")[:12]
    return (
        f"held for instance {holder.instance or '?'} (container {container}) by host "
        f"{holder.host} since {holder.since.isoformat(timespec='seconds')}"
    )


def _judge_lease(lease: Lease, instance: SeenInstance | None) -> Finding | None:
    held_for = _held_for(lease.holder)
    if instance is None:
        runtime = "reports no such instance or container"
        return Finding("leak", lease.address, lease.segment, held_for, runtime, _LEAK_ADVICE)
    if instance.ip is None:
        runtime = f"{instance.describe()} is {instance.state}, without an address"
        return Finding("leak", lease.address, lease.segment, held_for, runtime, _LEAK_ADVICE)
    if instance.ip != lease.address:
        runtime = f"{instance.describe()} runs with {instance.ip}"
        return Finding(
            "mismatch", lease.address, lease.segment, held_for, runtime, _MISMATCH_ADVICE
        )
    return None


def _judge_use(instance: SeenInstance, lease: Lease | None, segment: str) -> Finding | None:
    assert instance.ip is not None
    runtime = f"{instance.describe()} runs with it"
    if lease is None:
        etcd = "no holder recorded"
        return Finding("unrecorded", instance.ip, segment, etcd, runtime, _UNRECORDED_ADVICE)
    if lease.holder.kind != "docker" or _holding(lease.holder, [instance]) is None:
        # Held for someone else (another instance, or a Kubernetes pod): two users of it.
        return Finding(
            "mismatch", instance.ip, segment, _held_for(lease.holder), runtime, _MISMATCH_ADVICE
        )
    return None
