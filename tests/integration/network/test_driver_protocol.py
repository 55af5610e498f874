"""The Docker IPAM driver's answers, call by call, over a real etcd (Docker itself: see
test_docker_ipam.py). The container lookup is a plain function standing in for the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from dockyard.domain.segment import Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Directory, Keys
from dockyard.network.ipam.docker_driver import ContainerInfo, DockerIpamDriver
from tests.support.etcd import free_port


async def lookup(instance: str) -> ContainerInfo | None:
    if instance == "0123456789":
        return ContainerInfo("c" * 64, instance, "shop", "web", "test")
    return None


@pytest.fixture
async def driver(etcd: Etcd, keys: Keys) -> DockerIpamDriver:
    segment = Segment.parse(name="s1", cidr="10.61.0.0/29", gateway=None, environments=["test"])
    directory = Directory(etcd, keys=keys)
    await directory.publish(segment, [])
    book = AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))
    return DockerIpamDriver(
        book=book, directory=directory, host="h1", clock=lambda: datetime.now(UTC), lookup=lookup
    )


async def test_activation_capabilities_and_pool(driver: DockerIpamDriver) -> None:
    assert await driver.handle("Plugin.Activate", {}) == {"Implements": ["IpamDriver"]}
    capabilities = await driver.handle("IpamDriver.GetCapabilities", {})
    assert capabilities["RequiresMACAddress"] is True
    pool = await driver.handle(
        "IpamDriver.RequestPool", {"Pool": "", "Options": {"segment": "s1"}, "V6": False}
    )
    assert pool == {
        "PoolID": "s1",
        "Pool": "10.61.0.0/29",
        "Data": {"com.docker.network.gateway": "10.61.0.1/29"},
    }


@pytest.mark.parametrize(
    ("call", "body", "words"),
    [
        ("IpamDriver.RequestPool", {"V6": True}, "IPv4 addresses only"),
        ("IpamDriver.RequestPool", {"Options": {}}, "--ipam-opt segment=NAME"),
        ("IpamDriver.RequestPool", {"Options": {"segment": "nope"}}, "not configured in etcd"),
        (
            "IpamDriver.RequestPool",
            {"Pool": "10.9.0.0/24", "Options": {"segment": "s1"}},
            "leave --subnet out",
        ),
        ("IpamDriver.Nonsense", {}, "unknown call"),
        ("IpamDriver.RequestAddress", {"Options": None}, "carries no PoolID"),
        ("IpamDriver.ReleaseAddress", {"PoolID": "s1"}, "carries no Address"),
    ],
)
async def test_refusals_are_answered_as_errors_never_raised(
    driver: DockerIpamDriver, call: str, body: dict[str, object], words: str
) -> None:
    answer = await driver.handle(call, body)
    assert words in answer["Error"] and answer["Err"] == answer["Error"]


async def test_addresses_with_null_options_gateway_and_mac_owner(
    driver: DockerIpamDriver, etcd: Etcd, keys: Keys
) -> None:
    gateway = await driver.handle(
        "IpamDriver.RequestAddress",
        {
            "PoolID": "s1",
            "Address": "",
            "Options": {"RequestAddressType": "com.docker.network.gateway"},
        },
    )
    assert gateway == {"Address": "10.61.0.1/29", "Data": {}}
    anonymous = await driver.handle(
        "IpamDriver.RequestAddress", {"PoolID": "s1", "Address": "", "Options": None}
    )
    assert anonymous == {"Address": "10.61.0.2/29", "Data": {}}
    mac = {"com.docker.network.endpoint.macaddress": "02:01:23:45:67:89"}
    owned = await driver.handle(
        "IpamDriver.RequestAddress", {"PoolID": "s1", "Address": "", "Options": mac}
    )
    book = AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))
    assert owned == {"Address": "10.61.0.3/29", "Data": {}}
    lease = await book.lease("s1", IPv4Address("10.61.0.3"))
    assert lease is not None
    assert (lease.holder.instance, lease.holder.team, lease.holder.container) == (
        "0123456789",
        "shop",
        "c" * 64,
    )
    assert (
        await driver.handle("IpamDriver.ReleaseAddress", {"PoolID": "s1", "Address": "10.61.0.3"})
        == {}
    )
    assert await book.lease("s1", lease.address) is None


async def test_etcd_down_is_an_error_answer_and_the_driver_goes_on(keys: Keys) -> None:
    dead = Etcd([f"http://127.0.0.1:{free_port()}"], timeout_s=0.5)
    driver = DockerIpamDriver(
        book=AddressBook(dead, keys=keys, clock=lambda: datetime.now(UTC)),
        directory=Directory(dead, keys=keys),
        host="h1",
        clock=lambda: datetime.now(UTC),
        lookup=lookup,
    )
    answer = await driver.handle(
        "IpamDriver.RequestAddress", {"PoolID": "s1", "Address": "", "Options": None}
    )
    assert answer["Error"].startswith("IPAM unavailable: etcd at")
    assert await driver.handle("Plugin.Activate", {}) == {"Implements": ["IpamDriver"]}
    await dead.close()
