"""A container resolves service names through the chain `dockyard up` builds: Docker's embedded
resolver, then dnsmasq on the network's gateway (the container's `dns`), then PowerDNS and its
remote backend. What this adds to the loopback tests: Docker asks from the container's own
address, so the backend knows the caller's environment (an unknown address gets NXDOMAIN);
and, by default, a container the runtime starts gets its network's gateway as resolver, where
dnsmasq answers as soon as the bridge appears.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from dockyard.discovery.dns_config import DnsLayout
from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.names import Zone
from dockyard.discovery.pdns_backend import RemoteBackend, serving_backend
from dockyard.discovery.snapshot import Route, RouteKey, Snapshot
from dockyard.domain.environment import Environment
from dockyard.domain.errors import RuntimeFailure
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.runtimes.docker.driver import DockerRuntime
from tests.support.dns_servers import dns_servers, require_dns_programs
from tests.support.dns_wire import ask

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
ZONE = Zone()
TEST = Environment.TEST


@contextlib.contextmanager
def backend(layout: DnsLayout, snapshot: Snapshot) -> Iterator[None]:
    """The remote backend answering from `snapshot`, on a loop of its own in a thread."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    listening = threading.Event()

    async def serve() -> None:
        async with serving_backend(RemoteBackend(ZONE, lambda: snapshot), layout.backend_socket):
            listening.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert listening.wait(10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def made_network(
    client: docker.APIClient, bridge: str | None = None, *, name: str | None = None
) -> Iterator[tuple[str, str]]:
    """A bridge network of this test's own (named `name`, else a fresh name), on the Linux
    bridge `bridge` if named: (name, /24 prefix such as 10.231.7)."""
    name = name or f"dy-names-{secrets.token_hex(4)}"
    options = {"com.docker.network.bridge.name": bridge} if bridge else None
    for _ in range(20):
        prefix = f"10.{secrets.randbelow(40) + 200}.{secrets.randbelow(250)}"
        pool = docker.types.IPAMPool(subnet=f"{prefix}.0/24", gateway=f"{prefix}.1")
        try:
            client.create_network(
                name, driver="bridge", options=options,
                ipam=docker.types.IPAMConfig(pool_configs=[pool]),
            )  # fmt: skip
            break
        except docker.errors.APIError:
            continue  # the range is taken on this host: another one
    else:
        pytest.skip("no free 10.x.y.0/24 for a test network")
    try:
        yield name, prefix
    finally:
        client.remove_network(name)


@pytest.fixture
def network(docker_engine: docker.APIClient) -> Iterator[tuple[str, str]]:
    with made_network(docker_engine) as made:
        yield made


def lookup(
    client: docker.APIClient, image: str, network: str, address: str, gateway: str, name: str
) -> str:
    """The output of busybox nslookup of `name` in a container at `address`."""
    container = client.create_container(
        image, command=["nslookup", name], name=f"dy-names-{secrets.token_hex(4)}",
        host_config=client.create_host_config(network_mode=network, dns=[gateway]),
        networking_config=client.create_networking_config(
            {network: client.create_endpoint_config(ipv4_address=address)}
        ),
    )  # fmt: skip
    try:
        client.start(container)
        client.wait(container, timeout=30)
        output: bytes = client.logs(container)
        return output.decode(errors="replace")
    finally:
        client.remove_container(container, force=True)


def test_a_container_resolves_names_of_its_own_environment_by_its_address(
    docker_engine: docker.APIClient, test_image: str, network: tuple[str, str], tmp_path: Path
) -> None:
    require_dns_programs()
    name, prefix = network
    caller, stranger, gateway = f"{prefix}.10", f"{prefix}.11", f"{prefix}.1"
    api = Route(
        "alpha",
        "api",
        TEST,
        (Endpoint("a1", "10.1.0.2", (Port(8080),), 1, datetime.now(UTC)),),
        "v1",
    )
    snapshot = Snapshot({api.key: api}, {caller: ("alpha", "client", TEST)}, "v")
    layout = DnsLayout(tmp_path / "dns")
    with (
        backend(layout, snapshot),
        dns_servers(layout, zone=ZONE.name, upstreams=[], also_listen=[gateway], port=53),
    ):
        found = lookup(docker_engine, test_image, name, caller, gateway, f"api.alpha.{ZONE.name}")
        unknown = lookup(
            docker_engine, test_image, name, stranger, gateway, f"api.alpha.{ZONE.name}"
        )
    assert "10.1.0.2" in found, found
    assert "10.1.0.2" not in unknown and "NXDOMAIN" in unknown, unknown


def wait_answering(server: tuple[str, int]) -> None:
    """Return once `server` answers the zone's SOA: dnsmasq bound the new bridge's address."""
    deadline = time.monotonic() + 20
    while not _answers(server):
        assert time.monotonic() < deadline, f"dnsmasq never answered on {server[0]}"
        time.sleep(0.1)


def _answers(server: tuple[str, int]) -> bool:
    try:
        return bool(ask(server, ZONE.name, "SOA").answers)
    except OSError:
        return False


async def output_of(runtime: DockerRuntime, spec: InstanceSpec, until: str) -> str:
    """The log of the instance `spec` once it has a line with `until` (or after 30 s)."""
    observed = await runtime.start(spec)
    try:
        deadline = time.monotonic() + 30
        while True:
            lines = await runtime.logs(observed, tail=100)
            if any(until in line for line in lines) or time.monotonic() > deadline:
                return "\n".join(lines)
            await asyncio.sleep(0.2)
    finally:
        await runtime.destroy(observed)


async def test_a_container_started_without_resolvers_set_resolves_through_its_gateway(
    docker_engine: docker.APIClient, test_image: str, tmp_path: Path
) -> None:
    require_dns_programs()
    bridge = f"dy-t{secrets.token_hex(4)}"  # a segment network's kind of name (network/)
    layout = DnsLayout(tmp_path / "dns")
    service = f"api.alpha.{ZONE.name}"
    api = Route(
        "alpha", "api", TEST,
        (Endpoint("a1", "10.1.0.2", (Port(8080),), 1, datetime.now(UTC)),), "v1",
    )  # fmt: skip
    callers: dict[str, RouteKey] = {}  # filled once the network's range is known
    runtime = DockerRuntime(dns_from_gateway=True)
    # dnsmasq first, the bridge after: it must start answering on a gateway that appears later.
    with (
        backend(layout, Snapshot({api.key: api}, callers, "v")),
        # A pattern, as dnsmasq.conf has them (dy-*), narrowed to this test's bridge alone.
        dns_servers(layout, zone=ZONE.name, upstreams=[], interfaces=[f"{bridge[:-2]}*"], port=53),
        made_network(docker_engine, bridge) as (name, prefix),
    ):
        callers.update({f"{prefix}.{host}": ("alpha", "client", TEST) for host in range(2, 255)})
        wait_answering((f"{prefix}.1", 53))
        spec = InstanceSpec(
            team="alpha", service="client", env=TEST, revision=1,
            instance_id=new_instance_id(), network=name,
            spec=ServiceSpec(
                image=test_image, args=("sh", "-c", f"nslookup {service}; sleep 300"),
                stop_grace_s=1,
            ),
        )  # fmt: skip
        try:
            output = await output_of(runtime, spec, until="10.1.0.2")
        finally:
            runtime.close()
    assert "10.1.0.2" in output, output


async def test_a_network_made_again_after_a_failed_start_gives_its_new_gateway(
    docker_engine: docker.APIClient, test_image: str
) -> None:
    runtime = DockerRuntime(dns_from_gateway=True)
    name = f"dy-names-{secrets.token_hex(4)}"
    spec = InstanceSpec(
        team="alpha", service="client", env=TEST, revision=1,
        instance_id=new_instance_id(), network=name,
        spec=ServiceSpec(image=test_image, args=("sleep", "300"), stop_grace_s=1),
    )  # fmt: skip

    async def resolvers() -> object:
        observed = await runtime.start(spec)
        try:
            return docker_engine.inspect_container(observed.runtime_id)["HostConfig"]["Dns"]
        finally:
            await runtime.destroy(observed)

    try:
        with made_network(docker_engine, name=name) as (_, prefix):
            assert await resolvers() == [f"{prefix}.1"]
        with pytest.raises(RuntimeFailure):
            await runtime.start(spec)  # the segment network is gone
        with made_network(docker_engine, name=name) as (_, again):  # the agent makes it again
            assert again != prefix
            assert await resolvers() == [f"{again}.1"]
    finally:
        runtime.close()
