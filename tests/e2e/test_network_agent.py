"""`dockyard agent` as a real process: it makes the segment's Docker network, serves Docker's
IPAM driver, and containers started by the engine get segment addresses recorded in etcd."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from ipaddress import IPv4Address
from pathlib import Path

import docker
import pytest

from dockyard.domain.segment import Segment
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Directory, Keys, Lease
from tests.support.etcd import EtcdServer

pytestmark = pytest.mark.docker


def etcd_call(endpoint: str, prefix: str, action: str, segment: Segment) -> list[Lease]:
    async def run() -> list[Lease]:
        etcd = Etcd([endpoint])
        try:
            if action == "publish":
                await Directory(etcd, keys=Keys(prefix)).publish(segment, [])
                return []
            return await AddressBook(etcd, keys=Keys(prefix), clock=datetime.now).leases()
        finally:
            await etcd.close()

    return asyncio.run(run())


def withdraw(endpoint: str, prefix: str, name: str) -> None:
    """Remove the segment from etcd, as the server does when the admin deletes it."""

    async def run() -> None:
        etcd = Etcd([endpoint])
        try:
            await Directory(etcd, keys=Keys(prefix)).withdraw(name)
        finally:
            await etcd.close()

    asyncio.run(run())


@pytest.fixture
def agent(
    tmp_path: Path, etcd_server: EtcdServer, docker_engine: docker.APIClient
) -> Iterator[tuple[str, Segment]]:
    """A `dockyard agent` on its own plugin socket and etcd prefix; stopped by its PID."""
    tag = secrets.token_hex(3)
    prefix = f"/e2e-{tag}"
    segment = Segment.parse(
        name=f"e{tag}", cidr="10.97.0.0/28", gateway=None, environments=["test"]
    )
    etcd_call(etcd_server.endpoint, prefix, "publish", segment)
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_ETCD_ENDPOINTS": etcd_server.endpoint,
        "DOCKYARD_ETCD_PREFIX": prefix,
        "DOCKYARD_IPAM_SOCKET": f"/run/docker/plugins/dy-e2e-{tag}.sock",
        "DOCKYARD_IPAM_GC_INTERVAL_S": "0.5",
        "DOCKYARD_IPAM_GC_GRACE_S": "1",
        "DOCKYARD_HOST_NAME": "e2e-host",
    }
    log = (tmp_path / "agent.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.cli", "agent"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield prefix, segment
    finally:
        # Withdrawn first, so the running agent does not make the network again meanwhile.
        withdraw(etcd_server.endpoint, prefix, segment.name)
        for entry in docker_engine.containers(
            all=True, filters={"network": segment.docker_network}
        ):
            docker_engine.remove_container(entry["Id"], force=True)
        with contextlib.suppress(docker.errors.NotFound):
            docker_engine.remove_network(segment.docker_network)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def wait_for(check, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail("timed out")


def network_exists(engine: docker.APIClient, name: str) -> bool:
    try:
        engine.inspect_network(name)
        return True
    except docker.errors.NotFound:
        return False


def test_the_agent_process_serves_addresses_and_collects_them(
    agent: tuple[str, Segment],
    etcd_server: EtcdServer,
    docker_engine: docker.APIClient,
    test_image: str,
) -> None:
    prefix, segment = agent

    wait_for(lambda: network_exists(docker_engine, segment.docker_network))
    container = docker_engine.create_container(
        test_image,
        host_config=docker_engine.create_host_config(network_mode=segment.docker_network),
    )
    docker_engine.start(container["Id"])
    address = docker_engine.inspect_container(container["Id"])["NetworkSettings"]["Networks"][
        segment.docker_network
    ]["IPAddress"]
    assert IPv4Address(address) in segment.cidr
    # Not a Dockyard instance: the collector binds its container id from the endpoint.
    held = wait_for(
        lambda: [
            lease
            for lease in etcd_call(etcd_server.endpoint, prefix, "read", segment)
            if lease.holder.container == container["Id"]
        ]
    )
    assert str(held[0].address) == address and held[0].holder.host == "e2e-host"
    docker_engine.remove_container(container["Id"], force=True)
    wait_for(lambda: etcd_call(etcd_server.endpoint, prefix, "read", segment) == [] or None)


def test_the_agent_process_removes_the_network_of_a_deleted_segment(
    agent: tuple[str, Segment], etcd_server: EtcdServer, docker_engine: docker.APIClient
) -> None:
    prefix, segment = agent

    wait_for(lambda: network_exists(docker_engine, segment.docker_network))
    withdraw(etcd_server.endpoint, prefix, segment.name)
    wait_for(lambda: not network_exists(docker_engine, segment.docker_network))
