"""Network segments: the address ranges IPAM hands instance addresses out of. Pure: no I/O.

A segment is a CIDR with a gateway (and optionally a VLAN id) that serves environments of one
network: `test`/`stable` are offline, `sandbox`/`online` online, and a segment never serves
both. Reserved ranges (routers, DHCP, appliances) are never handed out. A service may fix
addresses for an environment (firewall allow-lists name them): its instances take those first,
nobody else ever does, and they stay the service's across redeploys and scale to zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv4Network, NetmaskValueError

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid

# A segment's name becomes its bridge's name, "dy-" + name, and Linux interface names are at
# most 15 characters: so 12 at most here.
_SEGMENT_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,10}[a-z0-9])?$")
MAX_PREFIX = 30  # a /31 or /32 has no room for a gateway and an instance
DOCKER_NETWORK_PREFIX = "dyseg-"
"""Docker networks of segments are named dyseg-SEGMENT (runtimes read addresses there)."""


@dataclass(frozen=True, order=True)
class AddressRange:
    """first..last, both included."""

    first: IPv4Address
    last: IPv4Address

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4Address) and self.first <= address <= self.last

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @classmethod
    def parse(cls, text: str) -> AddressRange:
        """ "A.B.C.D", "A.B.C.D-A.B.C.E" or "A.B.C.D/N"; Invalid otherwise."""
        try:
            if "/" in text:
                network = IPv4Network(text.strip(), strict=True)
                return cls(network.network_address, network.broadcast_address)
            first, _, last = text.partition("-")
            low = IPv4Address(first.strip())
            high = IPv4Address(last.strip()) if last else low
        except (AddressValueError, NetmaskValueError, ValueError):
            raise Invalid(
                f"reserved range {text!r} is not an address, FIRST-LAST or a CIDR",
                field="reserved",
            ) from None
        if high < low:
            raise Invalid(f"reserved range {text!r} ends before it starts", field="reserved")
        return cls(low, high)


@dataclass(frozen=True)
class Segment:
    name: str
    cidr: IPv4Network
    gateway: IPv4Address
    environments: frozenset[Environment]
    reserved: tuple[AddressRange, ...] = ()
    vlan: int | None = None

    @property
    def bridge(self) -> str:
        """The Linux bridge instances of this segment attach to on each host."""
        return f"dy-{self.name}"

    @property
    def docker_network(self) -> str:
        """The Docker network (IPAM driver `dockyard`) made for this segment on each host."""
        return DOCKER_NETWORK_PREFIX + self.name

    @property
    def network_kind(self) -> str:
        """ "offline" or "online": the one network every environment it serves lives on."""
        return next(iter(self.environments)).network

    def holds(self, address: IPv4Address) -> bool:
        """True if `address` may be given to an instance (not network, broadcast or gateway)."""
        return (
            address in self.cidr
            and address not in (self.cidr.network_address, self.cidr.broadcast_address)
            and address != self.gateway
        )

    def is_reserved(self, address: IPv4Address) -> bool:
        return any(address in span for span in self.reserved)

    def overlaps(self, other: Segment) -> bool:
        return self.cidr.overlaps(other.cidr)

    @classmethod
    def parse(
        cls,
        *,
        name: str,
        cidr: str,
        gateway: str | None,
        environments: Iterable[str],
        reserved: Iterable[str] = (),
        vlan: int | None = None,
    ) -> Segment:
        """A checked segment; Invalid (naming the field and the fix) for any bad part.

        The gateway defaults to the first address of the CIDR.
        """
        network = _network(cidr)
        gateway_address = _gateway(network, gateway)
        spans = tuple(sorted(AddressRange.parse(text) for text in reserved))
        for span in spans:
            if span.first not in network or span.last not in network:
                raise Invalid(
                    f"reserved range {span} is outside the segment's CIDR {network}: "
                    "reserve addresses of this segment only",
                    field="reserved",
                )
        return cls(
            name=_segment_name(name),
            cidr=network,
            gateway=gateway_address,
            environments=_environments(environments),
            reserved=spans,
            vlan=_vlan(vlan),
        )


@dataclass(frozen=True)
class FixedAddress:
    """An address a service keeps for itself in one environment."""

    team: str
    service: str
    env: Environment
    address: IPv4Address
    segment: str


def parse_address(text: str, *, field: str = "address") -> IPv4Address:
    try:
        return IPv4Address(text.strip())
    except (AddressValueError, ValueError):
        raise Invalid(f"{text!r} is not an IPv4 address (A.B.C.D)", field=field) from None


def _segment_name(value: str) -> str:
    if not isinstance(value, str) or not _SEGMENT_NAME.match(value):
        raise Invalid(
            f"segment name {value!r} is not valid: use 1-12 lowercase letters, digits and '-', "
            "starting with a letter (it names the bridge dy-NAME, and interface names are short)",
            field="name",
        )
    return value


def _network(text: str) -> IPv4Network:
    try:
        network = IPv4Network(text.strip(), strict=True)
    except (AddressValueError, NetmaskValueError, ValueError) as exc:
        raise Invalid(
            f"CIDR {text!r} is not an IPv4 network such as 10.20.0.0/24 ({exc})", field="cidr"
        ) from None
    if network.prefixlen > MAX_PREFIX:
        raise Invalid(f"CIDR {network} is too small: use a /{MAX_PREFIX} or larger", field="cidr")
    return network


def _gateway(network: IPv4Network, text: str | None) -> IPv4Address:
    if text is None or not text.strip():
        return network.network_address + 1
    address = parse_address(text, field="gateway")
    if address not in network or address in (network.network_address, network.broadcast_address):
        raise Invalid(
            f"gateway {address} is not a host address of {network}: pick one inside the CIDR",
            field="gateway",
        )
    return address


def _environments(values: Iterable[str]) -> frozenset[Environment]:
    found = frozenset(Environment.parse(value) for value in values)
    if not found:
        raise Invalid(
            "a segment must serve at least one environment (test, stable, sandbox, online)",
            field="environments",
        )
    kinds = {env.network for env in found}
    if len(kinds) > 1:
        raise Invalid(
            "a segment serves environments of one network only: test and stable are offline, "
            "sandbox and online are online; make one segment for each",
            field="environments",
        )
    return found


def _vlan(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 4094:
        raise Invalid(f"VLAN id {value} is out of range: use 1 to 4094", field="vlan")
    return value


# -- tying an address to its instance ----------------------------------------------------------

_INSTANCE_ID = re.compile(r"^[0-9a-f]{10}$")
_INSTANCE_MAC = re.compile(r"^02(:[0-9a-f]{2}){5}$")


def instance_mac(instance_id: str) -> str | None:
    """The MAC a Docker runtime gives an instance on a segment network: 02 (locally
    administered, unicast), then the five bytes of its instance id. None for other ids.

    Docker's IPAM driver protocol names no container, but sends the endpoint's MAC when the
    driver asks for it: the MAC carries the instance id to the driver (network/ipam).
    """
    if not _INSTANCE_ID.match(instance_id):
        return None
    return "02:" + ":".join(instance_id[i : i + 2] for i in range(0, 10, 2))


def instance_of_mac(mac: str | None) -> str | None:
    """The instance id a MAC made by `instance_mac` carries (unconfirmed: Docker's own random
    MACs have the same shape), or None."""
    if not mac or not _INSTANCE_MAC.match(mac.lower()):
        return None
    return mac.lower().replace(":", "")[2:]
