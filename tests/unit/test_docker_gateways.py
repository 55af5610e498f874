"""A container's default resolver: its network's gateway, as the engine reports it."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.runtimes.docker.gateways import container_dns, gateway_of


@pytest.mark.parametrize(
    ("inspect", "expected"),
    [
        ({"IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]}},
         "172.18.0.1"),
        ({"IPAM": {"Config": [{"Subnet": "10.7.0.0/24", "Gateway": "10.7.0.1/24"}]}}, "10.7.0.1"),
        (
            {"IPAM": {"Config": [{"Subnet": "fd00::/64", "Gateway": "fd00::1"},
                                 {"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]}},
            "10.9.0.1",
        ),  # IPv4 first: dnsmasq's IPv4 listeners are the ones every container reaches
        ({"IPAM": {"Config": [{"Subnet": "10.7.0.0/24"}]}}, None),
        ({"IPAM": {"Config": None}}, None),
        ({"IPAM": {"Config": [{"Gateway": "not-an-address"}]}}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_the_gateway_is_the_first_ipv4_one_of_the_networks_ipam_config(
    inspect: dict[str, Any], expected: str | None
) -> None:
    assert gateway_of(inspect) == expected


@pytest.mark.parametrize(
    ("explicit", "from_gateway", "gateway", "expected"),
    [
        (("10.0.0.53",), True, "172.18.0.1", ("10.0.0.53",)),  # the operator's override
        (("10.0.0.53",), False, None, ("10.0.0.53",)),
        ((), True, "172.18.0.1", ("172.18.0.1",)),  # the default: the network's gateway
        ((), True, None, ()),  # no gateway known: the engine's default
        ((), False, "172.18.0.1", ()),  # DNS off: the engine's default
    ],
)
def test_a_container_gets_the_explicit_resolvers_else_its_gateway_when_names_are_on(
    explicit: tuple[str, ...], from_gateway: bool, gateway: str | None, expected: tuple[str, ...]
) -> None:
    assert container_dns(explicit=explicit, from_gateway=from_gateway, gateway=gateway) == expected
