"""The balancer on a real HAProxy (Debian's 2.6): routes by host name, follows scale-out,
scale-in and new endpoints through the runtime API without a reload, reloads when a route is
added, drains before maintenance, routes a TCP service on a port of its own, and exports
per-backend metrics. The backends are small HTTP servers on loopback; snapshots are fed
directly. Needs no Docker."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.discovery.balancer import Balancer
from dockyard.discovery.balancer_config import Listeners
from dockyard.discovery.balancer_layout import Shape
from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.haproxy import Haproxy, HaproxyFiles
from dockyard.discovery.snapshot import Route, Snapshot
from dockyard.domain.environment import Environment
from dockyard.domain.spec import Port

pytestmark = [
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed"),
    pytest.mark.timeout(60),
]
TEST = Environment.TEST


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Backends:
    """HTTP servers on loopback, each answering its own name."""

    def __init__(self) -> None:
        self.servers: dict[str, tuple[asyncio.Server, int]] = {}

    async def add(self, name: str) -> Endpoint:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            body = name.encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.servers[name] = (server, port)
        return self.endpoint(name)

    def endpoint(self, name: str, port_name: str = "") -> Endpoint:
        port = self.servers[name][1]
        return Endpoint(
            instance=name,
            address="127.0.0.1",
            ports=(Port(port, name=port_name),),
            revision=1,
            ready_at=None,
        )

    def close(self) -> None:
        for server, _ in self.servers.values():
            server.close()


def snapshot(version: str, **services: tuple[Endpoint, ...]) -> Snapshot:
    routes = {
        ("ops", s, TEST): Route("ops", s, TEST, eps, version=version) for s, eps in services.items()
    }
    return Snapshot(routes=routes, callers={}, version=version)


@pytest.fixture
def listeners() -> Listeners:
    return Listeners(
        http=f"127.0.0.1:{free_port()}", metrics=f"127.0.0.1:{free_port()}", tcp_host="127.0.0.1"
    )


class Clock:
    """The balancer's clock, moved by the test: drains are timed without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def balancer(tmp_path: Path, listeners: Listeners, clock: Clock) -> AsyncIterator[Balancer]:
    tcp = free_port()
    shape = Shape(domain="dy.example", tcp_ports=range(tcp, tcp + 1), min_slots=4, drain_s=0.5)
    found = Balancer(Haproxy(HaproxyFiles(tmp_path)), shape=shape, listeners=listeners, clock=clock)
    yield found
    await found.haproxy.stop()


@pytest.fixture
def backends() -> Iterator[Backends]:
    found = Backends()
    yield found
    found.close()


async def served(listeners: Listeners, host: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=f"http://{listeners.http}") as client:
        answers = [await client.get("/", headers={"Host": host}) for _ in range(count)]
    return [a.text if a.status_code == 200 else str(a.status_code) for a in answers]


WEB = "web.ops.test.dy.example"


async def test_routes_follow_scale_out_and_in_without_a_reload_and_a_new_route_reloads(
    balancer: Balancer, backends: Backends, listeners: Listeners
) -> None:
    a, b, c = [await backends.add(n) for n in "abc"]
    await balancer.apply(snapshot("1", web=(a,)))
    assert set(await served(listeners, WEB, 4)) == {"a"}
    assert set(await served(listeners, "nothing.ops.test.dy.example", 1)) == {"503"}
    worker = await balancer.haproxy.worker_pid()

    await balancer.apply(snapshot("2", web=(a, b, c)))
    assert set(await served(listeners, WEB, 6)) == {"a", "b", "c"}
    await balancer.apply(snapshot("3", web=(c,)))
    assert set(await served(listeners, WEB, 6)) == {"c"}
    assert await balancer.haproxy.worker_pid() == worker  # runtime API only

    d = await backends.add("d")
    await balancer.apply(snapshot("4", web=(c,), api=(d,)))
    assert await balancer.haproxy.worker_pid() != worker
    assert set(await served(listeners, "api.ops.test.dy.example", 2)) == {"d"}
    assert set(await served(listeners, WEB, 4)) == {"c"}


async def test_a_leaving_endpoint_drains_then_goes_to_maintenance(
    balancer: Balancer, backends: Backends, clock: Clock
) -> None:
    a, b = [await backends.add(n) for n in "ab"]
    await balancer.apply(snapshot("1", web=(a, b)))
    await balancer.apply(snapshot("2", web=(b,)))
    port_a, port_b = a.ports[0].container_port, b.ports[0].container_port
    assert await admin_states(balancer) == {port_a: "drain", port_b: "ready"}
    clock.now += 0.4  # within the shape's drain period
    await balancer.apply(snapshot("2", web=(b,)))
    assert await admin_states(balancer) == {port_a: "drain", port_b: "ready"}
    clock.now += 0.2  # past it
    await balancer.apply(snapshot("2", web=(b,)))
    assert await admin_states(balancer) == {port_a: "maint", port_b: "ready"}


async def admin_states(balancer: Balancer) -> dict[int, str]:
    """Each used slot of ops.web.test by port, in the admin state HAProxy reports."""
    from dockyard.discovery.haproxy import ask

    answer = await ask(balancer.haproxy.files.stats_socket, "show servers state ops.web.test")
    found = {}
    for line in answer.splitlines()[2:]:
        fields = line.split()
        if len(fields) > 18 and fields[18] != "1":
            admin = int(fields[6])
            found[int(fields[18])] = (
                "maint" if admin & 0x01 else "drain" if admin & 0x08 else "ready"
            )
    return found


async def test_a_tcp_service_is_reached_on_its_own_port(
    balancer: Balancer, backends: Backends, listeners: Listeners
) -> None:
    await backends.add("r")
    await balancer.apply(snapshot("1", cache=(backends.endpoint("r", "redis"),)))
    port = balancer.layout.backends["ops.cache.test"].tcp_port
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/")).text == "r"


async def test_request_counts_are_exported_per_backend(
    balancer: Balancer, backends: Backends, listeners: Listeners
) -> None:
    a = await backends.add("a")
    await balancer.apply(snapshot("1", web=(a,)))
    await served(listeners, WEB, 3)
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://{listeners.metrics}/metrics")).text
    line = next(
        found for found in text.splitlines()
        if found.startswith('haproxy_backend_http_responses_total{proxy="ops.web.test",code="2xx"}')
    )  # fmt: skip
    assert line.endswith(" 3")


async def test_a_new_balancer_serves_the_routes_the_last_one_left_before_any_snapshot(
    balancer: Balancer, backends: Backends, listeners: Listeners, tmp_path: Path
) -> None:
    a = await backends.add("a")
    await balancer.apply(snapshot("1", web=(a,)))
    await balancer.haproxy.stop()
    again = Balancer(
        Haproxy(HaproxyFiles(tmp_path)), shape=Shape(domain="dy.example"), listeners=listeners
    )
    try:
        await again.start()  # the server is away: no snapshot comes
        assert set(await served(listeners, WEB, 2)) == {"a"}
        await again.apply(snapshot("2"))  # the first snapshot replaces what was left
        assert set(await served(listeners, WEB, 1)) == {"503"}
    finally:
        await again.haproxy.stop()


async def test_a_haproxy_left_by_a_killed_balancer_is_replaced_without_a_gap(
    balancer: Balancer, backends: Backends, listeners: Listeners, tmp_path: Path
) -> None:
    a = await backends.add("a")
    await balancer.apply(snapshot("1", web=(a,)))
    left = int((tmp_path / "haproxy.pid").read_text().split()[0])
    # The balancer is gone (SIGKILL): its HAProxy runs on, still serving.
    again = Balancer(
        Haproxy(HaproxyFiles(tmp_path)), shape=Shape(domain="dy.example"), listeners=listeners
    )
    try:
        await again.start()
        assert set(await served(listeners, WEB, 2)) == {"a"}
        for _ in range(100):  # the old master soft-stops: it ends once its worker is done
            if balancer.haproxy.exit_status() is not None:
                break
            await asyncio.sleep(0.05)
        assert balancer.haproxy.exit_status() is not None, f"HAProxy {left} still runs"
        assert int((tmp_path / "haproxy.pid").read_text().split()[0]) != left
    finally:
        await again.haproxy.stop()
