"""Endpoint propagation: a controller's write of an instance's status -> the watch event.

A server process that is not the leader serves the watch (as with several servers, one elected
to run the controllers): a child process runs the API app over a SQLite database, and this
process plays the leader's controller, writing each pass as `store.status.write_pass` does, in
its own process. One client watches `GET /api/v1/endpoints/T/S?env=test&watch=1`. Each change
adds or removes a ready instance; its latency is from the write's commit to the event holding
the new set. Changes are spaced by a random 20-70 ms so they fall anywhere in the poll interval.

Baseline, same run: the bare database round trip the watch cannot beat, a write_pass commit
and a read of the ready set in this process, and the poll query alone.

Target (issue 14): p95 <= 200 ms from write to watch event (the issue's aim: 100 ms).

DNS (where pdns_server, its remote backend and dnsmasq are installed): the same server's
all-services feed followed by the name server, PowerDNS and dnsmasq on loopback as `dockyard up`
runs them; a caller instance asks dnsmasq for SERVICE.TEAM.<zone> in a tight loop after each
write, and the latency is from the write's commit to the first answer holding the new set.
Baseline, same run: one DNS round trip of a name that does not change (caller -> dnsmasq ->
PowerDNS -> name server and back), and the watch figures above. Target (issue 14): p95 <= 1 s.

The load balancer (unless --no-balancer; needs Debian's haproxy, busybox and wrk), over the
same database and API process: the balancer follows the all-services feed and runs HAProxy;
two busybox httpd instances on loopback addresses answer "a" and "b".
- Routing propagation: the ready set flips between the two; from the write's commit until a
  request through the balancer is answered by the new instance (a request every ~2 ms).
  Target p95 <= 1 s.
- Throughput, same run: wrk with 50 connections for a small response, straight to one
  instance, and through the balancer to that same instance: requests/s and p99.
  Target >= 80 % of the direct requests/s.

Run: .venv/bin/python -m benchmarks.discovery [--changes 200] [--watchers 1] [--database URL]
[--no-balancer] [--flips 40] [--wrk-s 10]
(for PostgreSQL: URL="$(.venv/bin/python -m tests.support.postgres start DIR)", then
`... stop DIR`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.harness import median, percentile
from dockyard.discovery.balancer import Balancer
from dockyard.discovery.balancer_config import Listeners
from dockyard.discovery.balancer_layout import Shape
from dockyard.discovery.dns_config import DnsLayout
from dockyard.discovery.feed import Feed
from dockyard.discovery.haproxy import Haproxy, HaproxyFiles
from dockyard.discovery.names import Zone
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import releases, services, teams, tokens
from dockyard.store.db import Database
from dockyard.store.endpoints import ready_records
from dockyard.store.releases import Change
from dockyard.store.status import key_for, write_pass
from tests.support.etcd import free_port

TEAM, SERVICE = "bench", "web"
TARGET_P95_MS = 200.0
ROUTE_TARGET_P95_MS = 1000.0
THROUGHPUT_TARGET_PCT = 80.0
TARGET_DNS_P95_MS = 1000.0
CALLER = "127.0.0.5"
"""The address of a `client` instance in test: the DNS questions come from it."""
ADMIN = Principal(token_id="bench", name="bench", team=None)
NOW = datetime(2026, 1, 1, tzinfo=UTC)

SERVE = """
import sys, uvicorn
from dataclasses import replace
from datetime import UTC, datetime
from dockyard.api import ApiDeps, build_api
from dockyard.store.db import Database
deps = ApiDeps(db=Database.open(sys.argv[1], upgrade=False), clock=lambda: datetime.now(UTC),
               notify=lambda key: None)
uvicorn.run(build_api(deps), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def seed(db: Database, port: int = 8080) -> tuple[EnvKey, str]:
    """Team, token, service deployed to test (one revision), and a `client` service with one
    instance in test at CALLER (the DNS questions' source); the key and the token."""
    spec = ServiceSpec(image=f"{TEAM}/{SERVICE}:1", ports=(Port(port),))
    with db.session() as session:
        teams.create_team(session, ADMIN, name=TEAM, description="", now=NOW)
        _, token = tokens.create_token(
            session, ADMIN, team=TEAM, name="b", expires_at=None, now=NOW
        )
        services.create_service(session, ADMIN, team=TEAM, name=SERVICE, spec=spec, now=NOW)
        releases.deploy(
            session, Change(who=ADMIN, now=NOW), team=TEAM, service=SERVICE,
            env=Environment.TEST, replicas=1,
        )  # fmt: skip
        key = key_for(session, team=TEAM, service=SERVICE, env=Environment.TEST)
        client = ServiceSpec(image=f"{TEAM}/client:1")
        services.create_service(session, ADMIN, team=TEAM, name="client", spec=client, now=NOW)
        caller = key_for(session, team=TEAM, service="client", env=Environment.TEST)
    assert key is not None and caller is not None
    write(db, caller, [replace(record(0), id="caller", ip=CALLER)])
    return key, token


def record(n: int) -> InstanceRecord:
    return InstanceRecord(
        id=f"i{n:05d}",
        revision=1,
        template_hash="h",
        runtime_id=f"c{n}",
        state="running",
        health=Health.READY,
        ip=f"10.{n // 250}.{n % 250}.2",
        ready_at=NOW,
    )


def write(db: Database, key: EnvKey, ready: list[InstanceRecord]) -> float:
    """One controller pass's write; the perf_counter time its commit returned."""
    status = EnvStatus(EnvPhase.AVAILABLE, "", 1, len(ready), len(ready), len(ready))
    with db.session() as session:
        write_pass(session, key, records=ready, status=status, events=[], now=NOW)
    return time.perf_counter()


def watch(
    url: str, token: str, events: queue.Queue[tuple[float, int]], stop: threading.Event
) -> None:
    """Put (arrival time, number of endpoints) for each event until `stop`."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {"env": "test", "watch": "1"}
    path = f"/api/v1/endpoints/{TEAM}/{SERVICE}"
    with (
        httpx.Client(base_url=url, headers=headers, timeout=60) as http,
        http.stream("GET", path, params=params) as answer,
    ):
        for line in answer.iter_lines():
            if line.startswith("data: "):
                events.put((time.perf_counter(), len(json.loads(line[6:])["endpoints"])))
            if stop.is_set():
                return


def baseline(db: Database, key: EnvKey, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of a write_pass commit + a read of the ready set, and of the read alone."""
    both, reads = [], []
    for n in range(rounds):
        began = time.perf_counter()
        write(db, key, [record(0), record(n % 2 + 1)])
        middle = time.perf_counter()
        with db.reading() as reader:
            ready_records(reader, [key])
        end = time.perf_counter()
        both.append((end - began) * 1000)
        reads.append((end - middle) * 1000)
    return both, reads


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the API process did not start")


def run(changes: int, watchers: int = 1, database: str | None = None) -> dict[str, float]:
    """The watch's figures, its baselines, and the DNS figures where DNS can run."""
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-discovery-") as tmp:
        url_db = database or f"sqlite:///{Path(tmp) / 'dockyard.db'}"
        db = Database.open(url_db)
        key, token = seed(db)
        write(db, key, [record(0)])
        port = free_port()
        child = subprocess.Popen([sys.executable, "-c", SERVE, url_db, str(port)])
        url = f"http://127.0.0.1:{port}"
        events: queue.Queue[tuple[float, int]] = queue.Queue()
        stop = threading.Event()
        try:
            wait_ready(url)
            # The first watcher is timed; the others only load the server (one read each per
            # change), as many clients of one popular service would.
            others: queue.Queue[tuple[float, int]] = queue.Queue()
            for n in range(watchers):
                target = events if n == 0 else others
                threading.Thread(target=watch, args=(url, token, target, stop), daemon=True).start()
            events.get(timeout=10)  # the current set
            latencies = []
            rng = random.Random(14)
            for n in range(changes):
                ready = [record(0)] + ([record(n + 1)] if n % 2 == 0 else [])
                written = write(db, key, ready)
                arrived, count = events.get(timeout=10)
                assert count == len(ready), (count, len(ready))
                latencies.append((arrived - written) * 1000)
                time.sleep(rng.uniform(0.02, 0.07))
            stop.set()
            both, reads = baseline(db, key, changes)
            dns = run_dns(db, key, url, Path(tmp), changes)
        finally:
            child.terminate()
            child.wait(10)
            db.close()
    return {
        "changes": changes,
        "watchers": watchers,
        "watch_p50_ms": median(latencies),
        "watch_p95_ms": percentile(latencies, 95),
        "watch_max_ms": max(latencies),
        "watch_within_100ms_pct": 100 * sum(v <= 100 for v in latencies) / len(latencies),
        "write_read_p50_ms": median(both),
        "write_read_p95_ms": percentile(both, 95),
        "poll_query_p50_ms": median(reads),
        **dns,
    }


def instance(name: str, ip: str) -> InstanceRecord:
    return InstanceRecord(
        id=name, revision=1, template_hash="h", runtime_id=name, state="running",
        health=Health.READY, ip=ip, ready_at=NOW,
    )  # fmt: skip


@contextlib.contextmanager
def httpd(ip: str, port: int, body: str, root: Path) -> Iterator[None]:
    """busybox httpd on IP:PORT answering `body` at /."""
    (root / ip).mkdir()
    (root / ip / "index.html").write_text(body)
    child = subprocess.Popen(["busybox", "httpd", "-f", "-p", f"{ip}:{port}", "-h", str(root / ip)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{ip}:{port}/", timeout=1).text == body:
                    break
            time.sleep(0.05)
        yield
    finally:
        child.terminate()
        child.wait(10)


@contextlib.contextmanager
def balancer_thread(url: str, token: str, root: Path, http: str) -> Iterator[Balancer]:
    """A Balancer following the feed of `url`, its loop in a thread of its own."""
    files = HaproxyFiles(root / "balancer")
    listeners = Listeners(http=http, metrics=f"127.0.0.1:{free_port()}", tcp_host="127.0.0.1")
    found = Balancer(Haproxy(files), shape=Shape(drain_s=5), listeners=listeners)
    loop = asyncio.new_event_loop()
    task = loop.create_task(found.run(Feed(url, token).follow()))

    def serve() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        loop.close()


def routed_to(http: str, host: str, body: str, timeout_s: float = 10) -> float:
    """The perf_counter time a request through the balancer was first answered `body`."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=f"http://{http}", headers={"Host": host}, timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/").text == body:
                    return time.perf_counter()
            time.sleep(0.002)
    raise SystemExit(f"the balancer did not route to {body!r} within {timeout_s} s")


def wrk(url: str, seconds: int, host: str | None = None) -> tuple[float, float, int]:
    """Requests/s, p99 latency (ms) and failed requests (non-2xx answers and timeouts) of wrk,
    50 connections, 2 threads. (busybox httpd closes every connection: wrk's read errors
    from that are reconnections, not failures.)"""
    extra = ["-H", f"Host: {host}"] if host else []
    out = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    failed = sum(int(m.group(1)) for m in (non_2xx, timeouts) if m is not None)
    return rps, float(p99.group(1)) * scale, failed


def run_balancer(flips: int, wrk_s: int) -> dict[str, float]:
    """Routing propagation and throughput through the balancer (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-balancer-") as tmp:
        root, port = Path(tmp), free_port()
        url_db = f"sqlite:///{root / 'dockyard.db'}"
        db = Database.open(url_db)
        key, _ = seed(db, port)
        with db.session() as session:
            admin = tokens.ensure_admin_token(session, now=NOW)
        assert admin is not None
        a, b = instance("a", "127.0.0.2"), instance("b", "127.0.0.3")
        write(db, key, [a])
        api_port = free_port()
        child = subprocess.Popen([sys.executable, "-c", SERVE, url_db, str(api_port)])
        http, host = f"127.0.0.1:{free_port()}", f"{SERVICE}.{TEAM}.test.dockyard.internal"
        try:
            with (
                httpd(a.ip or "", port, "a", root),
                httpd(b.ip or "", port, "b", root),
            ):
                wait_ready(f"http://127.0.0.1:{api_port}")
                with balancer_thread(f"http://127.0.0.1:{api_port}", admin, root, http):
                    routed_to(http, host, "a", timeout_s=30)
                    latencies = []
                    for n in range(flips):
                        new = b if n % 2 == 0 else a
                        written = write(db, key, [new])
                        latencies.append((routed_to(http, host, new.id) - written) * 1000)
                        time.sleep(random.uniform(0.05, 0.2))
                    write(db, key, [a])
                    routed_to(http, host, "a")
                    direct = wrk(f"http://{a.ip}:{port}/", wrk_s)
                    through = wrk(f"http://{http}/", wrk_s, host=host)
        finally:
            child.terminate()
            child.wait(10)
            db.close()
    return {
        "flips": flips,
        "route_p50_ms": median(latencies),
        "route_p95_ms": percentile(latencies, 95),
        "route_max_ms": max(latencies),
        "direct_rps": direct[0],
        "direct_p99_ms": direct[1],
        "direct_failed": direct[2],
        "balancer_rps": through[0],
        "balancer_p99_ms": through[1],
        "balancer_failed": through[2],
        "balancer_of_direct_pct": 100 * through[0] / direct[0],
    }


def show(figures: dict[str, float]) -> None:
    for name, value in figures.items():
        print(f"{name:>22}  {value:8.2f}" if isinstance(value, float) else f"{name:>22}  {value}")


def run_dns(db: Database, key: EnvKey, url: str, root: Path, changes: int) -> dict[str, float]:
    """DNS propagation figures (empty if the DNS programs are missing)."""
    from tests.support.dns_servers import DNSMASQ, PDNS, dns_servers, name_server
    from tests.support.dns_wire import ask

    if not (Path(PDNS).exists() and Path(DNSMASQ).exists()):
        print("dns: skipped: apt-get install pdns-server pdns-backend-remote dnsmasq-base")
        return {}
    with db.session() as session:
        admin = tokens.ensure_admin_token(session, now=NOW) or ""
    layout, zone = DnsLayout(root / "dns"), Zone()
    name = f"{SERVICE}.{TEAM}.{zone.name}"
    with (
        name_server(Feed(url, admin), layout, zone),
        dns_servers(layout, zone=zone.name, upstreams=[]) as servers,
    ):

        def answered() -> int:
            reply = ask(servers.resolver, name, source=CALLER)
            return len(reply.answers) if reply.rcode == 0 else 0

        write(db, key, [record(0)])
        wait_for(lambda: answered() == 1)
        latencies, trips = [], []
        rng = random.Random(15)
        for n in range(changes):
            ready = [record(0)] + ([record(n + 1)] if n % 2 == 0 else [])
            written = write(db, key, ready)
            wait_for(lambda: answered() == len(ready))  # noqa: B023 (called before the next n)
            latencies.append((time.perf_counter() - written) * 1000)
            time.sleep(rng.uniform(0.02, 0.07))
            began = time.perf_counter()
            answered()
            trips.append((time.perf_counter() - began) * 1000)
    return {
        "dns_p50_ms": median(latencies),
        "dns_p95_ms": percentile(latencies, 95),
        "dns_max_ms": max(latencies),
        "dns_round_trip_p50_ms": median(trips),
    }


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Ask `condition` back to back (each ask is a DNS round trip) until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the DNS answer did not change within 10 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=1, help="SSE clients of the service")
    parser.add_argument(
        "--database", help="An empty database's URL (e.g. PostgreSQL); default: a SQLite file"
    )
    parser.add_argument("--no-balancer", action="store_true", help="Only the watch")
    parser.add_argument("--flips", type=int, default=40, help="Endpoint changes routed")
    parser.add_argument("--wrk-s", type=int, default=10, help="Seconds of each wrk run")
    args = parser.parse_args()
    figures = run(args.changes, args.watchers, args.database)
    show(figures)
    verdict = "met" if figures["watch_p95_ms"] <= TARGET_P95_MS else "MISSED"
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms: {verdict}")
    if "dns_p95_ms" in figures:
        verdict = "met" if figures["dns_p95_ms"] <= TARGET_DNS_P95_MS else "MISSED"
        print(f"target DNS p95 <= {TARGET_DNS_P95_MS:.0f} ms: {verdict}")
    if args.no_balancer:
        return
    routing = run_balancer(args.flips, args.wrk_s)
    show(routing)
    met = routing["route_p95_ms"] <= ROUTE_TARGET_P95_MS
    print(f"routing target p95 <= {ROUTE_TARGET_P95_MS:.0f} ms: {'met' if met else 'MISSED'}")
    met = routing["balancer_of_direct_pct"] >= THROUGHPUT_TARGET_PCT
    verdict = "met" if met else "MISSED"
    print(f"throughput target >= {THROUGHPUT_TARGET_PCT:.0f} % of direct: {verdict}")


if __name__ == "__main__":
    main()
