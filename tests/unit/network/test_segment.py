"""Segment input checks: every bad part refused with the field and the reason."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.segment import AddressRange, Segment


def parse(**overrides: object) -> Segment:
    fields: dict[str, object] = {
        "name": "off1",
        "cidr": "10.10.0.0/24",
        "gateway": "10.10.0.1",
        "environments": ["test", "stable"],
        "reserved": [],
        "vlan": None,
    }
    fields.update(overrides)
    return Segment.parse(**fields)  # type: ignore[arg-type]


def test_a_good_segment_parses_with_defaults() -> None:
    segment = parse(gateway=None, reserved=["10.10.0.200-10.10.0.250", "10.10.0.5"], vlan=120)
    assert segment.gateway == IPv4Address("10.10.0.1")
    assert segment.reserved[0] == AddressRange(IPv4Address("10.10.0.5"), IPv4Address("10.10.0.5"))
    assert segment.bridge == "dy-off1"
    assert segment.network_kind == "offline"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "Bad_Name"}, "name", "segment name"),
        ({"name": "much-too-long-name"}, "name", "1-12"),
        ({"cidr": "10.10.0.1/24"}, "cidr", "not an IPv4 network"),
        ({"cidr": "banana"}, "cidr", "not an IPv4 network"),
        ({"cidr": "10.10.0.0/31"}, "cidr", "too small"),
        ({"gateway": "10.11.0.1"}, "gateway", "not a host address of 10.10.0.0/24"),
        ({"gateway": "10.10.0.255"}, "gateway", "not a host address"),
        ({"reserved": ["10.11.0.1-10.11.0.9"]}, "reserved", "outside the segment's CIDR"),
        ({"reserved": ["10.10.0.9-10.10.0.1"]}, "reserved", "ends before it starts"),
        ({"reserved": ["x"]}, "reserved", "not an address"),
        ({"environments": []}, "environments", "at least one"),
        ({"environments": ["test", "online"]}, "environments", "one network only"),
        ({"environments": ["prod"]}, "env", "unknown environment"),
        ({"vlan": 4095}, "vlan", "1 to 4094"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    overrides: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(Invalid, match=words) as caught:
        parse(**overrides)
    assert caught.value.field == field
