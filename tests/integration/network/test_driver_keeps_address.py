"""An instance started again in place gets back the address it held, when nobody took it
meanwhile: the driver reads the instance id from the endpoint's MAC and prefers the address
that instance last held in the segment. Over a real etcd; the engine's side is in
test_restart_keeps_address.py."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.segment import FixedAddress, Segment, instance_mac
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Directory, Keys
from dockyard.network.ipam.docker_driver import ContainerInfo, DockerIpamDriver

WEB_1, WEB_2, OTHER = "0123456789", "0123456788", "aaaaaaaaaa"


async def lookup(instance: str) -> ContainerInfo | None:
    if instance in (WEB_1, WEB_2):
        return ContainerInfo(instance * 6 + "cccc", instance, "shop", "web", "test")
    return None


def segment(name: str = "s1") -> Segment:
    return Segment.parse(name=name, cidr="10.62.0.0/28", gateway=None, environments=["test"])


@pytest.fixture
async def driver(etcd: Etcd, keys: Keys) -> DockerIpamDriver:
    directory = Directory(etcd, keys=keys)
    await directory.publish(segment(), [])
    book = AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))
    return DockerIpamDriver(
        book=book, directory=directory, host="h1", clock=lambda: datetime.now(UTC), lookup=lookup
    )


async def request(driver: DockerIpamDriver, instance: str | None, address: str = "") -> str:
    options = {"com.docker.network.endpoint.macaddress": instance_mac(instance)} if instance else {}
    answer = await driver.handle(
        "IpamDriver.RequestAddress", {"PoolID": "s1", "Address": address, "Options": options}
    )
    assert "Address" in answer, answer
    return str(answer["Address"]).split("/")[0]


async def release(driver: DockerIpamDriver, address: str) -> None:
    assert (
        await driver.handle("IpamDriver.ReleaseAddress", {"PoolID": "s1", "Address": address}) == {}
    )


async def test_an_instance_started_again_gets_its_address_back(driver: DockerIpamDriver) -> None:
    first = await request(driver, WEB_1)
    await request(driver, WEB_2)  # the next free address moves on
    await release(driver, first)  # the container stopped
    assert await request(driver, WEB_1) == first


async def test_an_address_taken_meanwhile_is_not_handed_out_twice(
    driver: DockerIpamDriver, etcd: Etcd, keys: Keys
) -> None:
    first = await request(driver, WEB_1)
    await release(driver, first)
    assert await request(driver, None, address=first) == first  # someone else asked for it
    again = await request(driver, WEB_1)
    assert again != first
    book = AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))
    held = {str(lease.address): lease.holder.instance for lease in await book.leases("s1")}
    assert held == {first: None, again: WEB_1}


async def test_an_address_fixed_since_for_another_service_is_not_taken_back(
    driver: DockerIpamDriver, etcd: Etcd, keys: Keys
) -> None:
    first = await request(driver, WEB_1)
    await release(driver, first)
    fixed = FixedAddress(
        team="shop", service="db", env=Environment.TEST, address=IPv4Address(first), segment="s1"
    )
    await Directory(etcd, keys=keys).publish(segment(), [fixed])
    assert await request(driver, WEB_1) != first
