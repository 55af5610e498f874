"""`dockyard balancer` as a child process following a test server's feed, HAProxy's view of
its servers, and a client loop through it: for the balancer's Docker tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.child import ChildProcess, wait_until
from tests.support.server import ServerProcess, free_port


@dataclass(frozen=True)
class ServerState:
    """One slot of a backend as HAProxy reports it."""

    name: str
    address: str
    port: int
    up: bool
    """Operationally up (its health checks pass)."""
    admin: str
    """ready, drain or maint."""


class BalancerProcess:
    """One `dockyard balancer` over `state_dir`, fed by `server`, on free loopback ports."""

    def __init__(self, state_dir: Path, server: ServerProcess, *, drain_s: float = 3.0) -> None:
        self.state_dir = state_dir
        self.http_port = free_port()
        self.metrics_port = free_port()
        tcp = free_port()
        self.env = {
            **os.environ,
            "DOCKYARD_STATE_DIR": str(state_dir),
            "DOCKYARD_CREDENTIALS_FILE": str(state_dir / "none.json"),
            "DOCKYARD_URL": server.url,
            "DOCKYARD_TOKEN": server.token,
            "DOCKYARD_BALANCER_HTTP_ADDR": f"127.0.0.1:{self.http_port}",
            "DOCKYARD_BALANCER_METRICS_ADDR": f"127.0.0.1:{self.metrics_port}",
            "DOCKYARD_BALANCER_TCP_PORTS": f"{tcp}-{tcp}",
            "DOCKYARD_BALANCER_DRAIN_S": str(drain_s),
            "DOCKYARD_LOG_LEVEL": "info",
        }
        self.child = ChildProcess(
            [sys.executable, "-m", "dockyard.cli", "balancer"], log_file=state_dir / "balancer.log"
        )

    def start(self, *, timeout_s: float = 30) -> None:
        self.child.start(env=self.env)
        wait_until(
            self._serving, children=[self.child], what="HAProxy (dockyard balancer)",
            timeout_s=timeout_s,
        )  # fmt: skip

    def _serving(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM (it stops its HAProxy), SIGKILL if need be; then SIGKILL to what is left of
        its process group (an HAProxy a killed balancer could not stop)."""
        pid = self.child.pid
        self.child.stop(timeout_s=20)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def servers(self, backend: str) -> list[ServerState]:
        """The used slots of `backend` (`show servers state` on the stats socket)."""
        found = []
        for line in self._ask(f"show servers state {backend}").splitlines()[2:]:
            fields = line.split()
            if len(fields) < 19 or fields[18] == "1":  # an unused slot points at port 1
                continue
            admin = int(fields[6])
            state = "maint" if admin & 0x01 else "drain" if admin & 0x08 else "ready"
            found.append(
                ServerState(fields[3], fields[4], int(fields[18]), fields[5] == "2", state)
            )
        return found

    def _ask(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.state_dir / "balancer" / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()


@dataclass
class Load:
    """`clients` threads sending GET `path` with `host` through the balancer, back to back."""

    url: str
    host: str
    path: str = "/health"
    clients: int = 4
    results: list[tuple[float, float, str]] = field(default_factory=list)
    """(sent at, latency s, "ok" or what went wrong) of every request."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    @property
    def failures(self) -> list[tuple[float, float, str]]:
        return [r for r in self.results if r[2] != "ok"]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Host": self.host}, timeout=10) as client:
            while not self._stop.is_set():
                began = time.time()
                try:
                    answer = client.get(self.path)
                    outcome = "ok" if answer.status_code == 200 else str(answer.status_code)
                except httpx.HTTPError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.results.append((began, time.time() - began, outcome))
