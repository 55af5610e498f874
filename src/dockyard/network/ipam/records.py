"""What IPAM writes to etcd: the key layout and the JSON of each value. Pure: no I/O.

    PREFIX/ipam/segments/SEGMENT                   the segment and its fixed addresses (config)
    PREFIX/ipam/addresses/SEGMENT/ADDRESS          one key per address held: its Holder
    PREFIX/ipam/history/address/ADDRESS/SEGMENT/R  a past holding of ADDRESS (R: create revision)
    PREFIX/ipam/history/owner/OWNER/R              the same record, found by instance/container
    PREFIX/ipam/hosts/alive/HOST                   exists while HOST's agent lives (an etcd lease)
    PREFIX/ipam/hosts/known/HOST                   HOST's last registration (hosts.py), kept

A held address is exactly one key, created only if absent, so two holders of one address can
never both succeed. History is written in the same transaction that deletes the address key,
so a release is never without its record, and needs no database: the CNI plugin on a
Kubernetes node reaches etcd only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.segment import AddressRange, FixedAddress, Segment


@dataclass(frozen=True)
class Keys:
    """The key layout under one prefix (tests and benchmarks use a prefix of their own)."""

    prefix: str = "/dockyard"

    @property
    def segments(self) -> str:
        return f"{self.prefix}/ipam/segments/"

    def segment(self, name: str) -> str:
        return self.segments + name

    def addresses(self, segment: str | None = None) -> str:
        base = f"{self.prefix}/ipam/addresses/"
        return base if segment is None else f"{base}{segment}/"

    def address(self, segment: str, address: IPv4Address) -> str:
        return f"{self.addresses(segment)}{address}"

    def history_of_address(self, address: IPv4Address, segment: str | None = None) -> str:
        base = f"{self.prefix}/ipam/history/address/{address}/"
        return base if segment is None else f"{base}{segment}/"

    def history_of_owner(self, owner: str) -> str:
        return f"{self.prefix}/ipam/history/owner/{owner}/"

    @property
    def hosts_alive(self) -> str:
        return f"{self.prefix}/ipam/hosts/alive/"

    def host_alive(self, host: str) -> str:
        return self.hosts_alive + host

    @property
    def hosts_known(self) -> str:
        return f"{self.prefix}/ipam/hosts/known/"

    def host_known(self, host: str) -> str:
        return self.hosts_known + host

    def parse_address_key(self, key: str) -> tuple[str, IPv4Address]:
        segment, _, address = key.removeprefix(self.addresses()).partition("/")
        return segment, IPv4Address(address)


@dataclass(frozen=True)
class Holder:
    """Who holds an address: recorded with it when allocated, compared when it is released."""

    host: str
    """The host whose agent (or CNI plugin) allocated it."""
    claim: str
    """Random, unique per allocation: tells our own write from anyone else's on a re-read."""
    since: datetime
    kind: str = "docker"
    """"docker" (the agent's driver), "cni" (the CNI plugin) or "manual"."""
    instance: str | None = None
    container: str | None = None
    interface: str | None = None
    """The container's interface name (CNI), to tell two attachments of one container apart."""
    mac: str | None = None
    team: str | None = None
    service: str | None = None
    env: str | None = None

    @property
    def owner(self) -> str | None:
        """The id history is kept under: the instance, else the container."""
        return self.instance or self.container

    def with_container(
        self,
        container: str,
        *,
        instance: str | None = None,
        team: str | None = None,
        service: str | None = None,
        env: str | None = None,
    ) -> Holder:
        """This holder with its container (and what its labels say) filled in."""
        return replace(
            self,
            container=container,
            instance=instance or self.instance,
            team=team or self.team,
            service=service or self.service,
            env=env or self.env,
        )

    def to_json(self) -> bytes:
        data = {"host": self.host, "claim": self.claim, "kind": self.kind}
        data["since"] = self.since.isoformat()
        for name in _HOLDER_TEXT_FIELDS:  # by hand: dataclasses.asdict is slow on a hot path
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Holder:
        """The holder in a key's value; a value written by something else reads as 'unknown'
        rather than failing, so one bad key never stops IPAM."""
        try:
            data = json.loads(raw)
            fields = {name: data.get(name) for name in _HOLDER_TEXT_FIELDS}
            return cls(
                host=str(data.get("host") or "unknown"),
                claim=str(data.get("claim") or ""),
                since=datetime.fromisoformat(data["since"]),
                kind=str(data.get("kind") or "docker"),
                **fields,
            )
        except (ValueError, KeyError, TypeError):
            return cls(host="unknown", claim="", since=datetime.fromtimestamp(0, UTC))


_HOLDER_TEXT_FIELDS = ("instance", "container", "interface", "mac", "team", "service", "env")


@dataclass(frozen=True)
class Lease:
    """One held address as read from etcd; `revision` is what a release must compare."""

    segment: str
    address: IPv4Address
    holder: Holder
    revision: int
    created_revision: int

    def public(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "address": str(self.address),
            **_holder_public(self.holder),
            "revision": self.revision,
        }


@dataclass(frozen=True)
class HistoryRecord:
    """A holding that ended: who held the address, from when to when, and why it ended."""

    segment: str
    address: IPv4Address
    holder: Holder
    released_at: datetime | None
    """None for a holding that still goes on (history queries include current holders)."""
    reason: str
    """"released" (by its owner), "collected" (owner gone), "host-gone" (its host's agent
    gone for the grace period), "admin" (by hand), or "held"."""
    detail: str | None = None
    """Why, in words, where the reason alone does not say (e.g. since when the host was gone)."""

    def to_json(self) -> bytes:
        data = {
            "segment": self.segment,
            "address": str(self.address),
            "holder": json.loads(self.holder.to_json()),
            "released_at": None if self.released_at is None else self.released_at.isoformat(),
            "reason": self.reason,
        }
        if self.detail is not None:
            data["detail"] = self.detail
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> HistoryRecord:
        data = json.loads(raw)
        released = data.get("released_at")
        return cls(
            segment=data["segment"],
            address=IPv4Address(data["address"]),
            holder=Holder.from_json(json.dumps(data["holder"]).encode()),
            released_at=None if released is None else datetime.fromisoformat(released),
            reason=data["reason"],
            detail=data.get("detail"),
        )

    def public(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "address": str(self.address),
            **_holder_public(self.holder),
            "from": self.holder.since.isoformat(),
            "to": None if self.released_at is None else self.released_at.isoformat(),
            "reason": self.reason,
            "detail": self.detail,
        }


def _holder_public(holder: Holder) -> dict[str, Any]:
    data = {key: value for key, value in asdict(holder).items() if key not in ("claim", "since")}
    data["since"] = holder.since.isoformat()
    return data


# -- segment configuration, mirrored from the database for agents and the CNI plugin --------


def segment_to_json(segment: Segment, fixed: list[FixedAddress]) -> bytes:
    return json.dumps(
        {
            "name": segment.name,
            "cidr": str(segment.cidr),
            "gateway": str(segment.gateway),
            "vlan": segment.vlan,
            "environments": sorted(env.value for env in segment.environments),
            "reserved": [str(span) for span in segment.reserved],
            "fixed": [
                {
                    "address": str(item.address),
                    "team": item.team,
                    "service": item.service,
                    "env": item.env.value,
                }
                for item in sorted(fixed, key=lambda item: item.address)
            ],
        },
        sort_keys=True,
    ).encode()


def segment_from_json(raw: bytes) -> tuple[Segment, list[FixedAddress]]:
    """Raises Invalid if the stored configuration is not readable."""
    try:
        data = json.loads(raw)
        segment = Segment(
            name=data["name"],
            cidr=Segment.parse(
                name=data["name"], cidr=data["cidr"], gateway=None, environments=["test"]
            ).cidr,
            gateway=IPv4Address(data["gateway"]),
            environments=frozenset(Environment(env) for env in data["environments"]),
            reserved=tuple(AddressRange.parse(text) for text in data["reserved"]),
            vlan=data.get("vlan"),
        )
        fixed = [
            FixedAddress(
                team=item["team"],
                service=item["service"],
                env=Environment(item["env"]),
                address=IPv4Address(item["address"]),
                segment=segment.name,
            )
            for item in data.get("fixed", [])
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(f"stored configuration of a segment is unreadable: {exc}") from None
    return segment, fixed
