"""PowerDNS and dnsmasq for tests: Debian's real programs on loopback ports picked here, run
with the configurations Dockyard writes (discovery/dns_config.py), stopped by their PIDs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.discovery.dns_config import DnsLayout, dnsmasq_config, pdns_config
from dockyard.discovery.feed import Feed
from dockyard.discovery.name_server import NameServer
from dockyard.discovery.names import Zone
from tests.support.dns_wire import ask

PDNS = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def require_dns_programs() -> None:
    for program, package in ((PDNS, "pdns-server pdns-backend-remote"), (DNSMASQ, "dnsmasq")):
        if not Path(program).exists():
            pytest.skip(f"{program} is not installed: apt-get install {package}")
    if not Path("/usr/lib/x86_64-linux-gnu/pdns/libremotebackend.so").exists():
        pytest.skip(
            "PowerDNS's remote backend is not installed: apt-get install pdns-backend-remote"
        )


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (PowerDNS binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no port free for both UDP and TCP")


@dataclass(frozen=True)
class DnsServers:
    pdns: tuple[str, int]
    resolver: tuple[str, int]
    """dnsmasq: what containers would ask."""


@contextmanager
def dns_servers(
    layout: DnsLayout,
    *,
    zone: str,
    upstreams: Sequence[str],
    also_listen: Sequence[str] = (),
    interfaces: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[DnsServers]:
    """pdns_server (remote backend on `layout.backend_socket`) and dnsmasq in front of it,
    until the block ends; both answer before it begins. dnsmasq listens on 127.0.0.1,
    `also_listen` and the addresses of `interfaces` (as they come), at `port` (default: a
    free one)."""
    require_dns_programs()
    pdns = ("127.0.0.1", free_port())
    resolver = ("127.0.0.1", port or free_port())
    layout.pdns_dir.mkdir(parents=True, exist_ok=True)
    (layout.pdns_dir / "pdns.conf").write_text(pdns_config(layout, address=pdns[0], port=pdns[1]))
    layout.dnsmasq_file.write_text(
        dnsmasq_config(
            zone=zone,
            listen=[resolver[0], *also_listen],
            port=resolver[1],
            pdns=pdns,
            upstreams=upstreams,
            interfaces=interfaces,
        )
    )
    started: list[subprocess.Popen[bytes]] = []
    try:
        for argv, log in (
            ([PDNS, f"--config-dir={layout.pdns_dir}"], layout.root / "pdns.log"),
            ([DNSMASQ, f"--conf-file={layout.dnsmasq_file}"], layout.root / "dnsmasq.log"),
        ):
            with log.open("wb") as out:
                started.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
        for server in (pdns, resolver):
            _wait_answering(server, zone, started)
        yield DnsServers(pdns=pdns, resolver=resolver)
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_answering(
    server: tuple[str, int], zone: str, started: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert all(p.poll() is None for p in started), "a DNS server exited: see its log"
        try:
            if ask(server, zone, "SOA").answers:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no SOA answer from {server}"
        time.sleep(0.05)


@contextmanager
def name_server(feed: Feed, layout: DnsLayout, zone: Zone) -> Iterator[NameServer]:
    """`dockyard names` (its NameServer) on an event loop of its own, in a thread: the test
    asks DNS with blocking sockets, and PowerDNS must be answered meanwhile."""
    loop = asyncio.new_event_loop()
    names = NameServer(feed, zone=zone, layout=layout)
    task = loop.create_task(names.run())

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not names.serving.is_set():
        assert thread.is_alive() and time.monotonic() < deadline, "names did not listen"
        time.sleep(0.01)
    try:
        yield names
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()
