"""A throwaway nats-server for tests: Debian's /usr/sbin/nats-server with JetStream, on a free
loopback port, its store and log in a temp dir.

`NatsServer.start()` returns once the server answers a NATS PING; `stop()` ends it with SIGTERM
(a clean shutdown that flushes the store), `kill()` with SIGKILL, both by the PID this module
recorded (never by name); `restart()` brings it back on the same port and store, which is what
the "nothing lost across a nats-server restart" tests need. The session fixture `nats_server`
is shared by tests that only need a stream (each uses a stream name of its own); a test that
stops or restarts the server takes `own_nats`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

NATS_CANDIDATES = ("/usr/sbin/nats-server", "/usr/bin/nats-server")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


class NatsMissingError(RuntimeError):
    """Debian's nats-server is not installed."""


def find_nats_server() -> str | None:
    found = shutil.which("nats-server")
    return found or next((p for p in NATS_CANDIDATES if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_ping(port: int, *, timeout_s: float = 0.5) -> bool:
    """True if a NATS server on 127.0.0.1:`port` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
            conn.settimeout(timeout_s)
            if not conn.recv(4096).startswith(b"INFO"):
                return False
            conn.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
            return b"PONG" in conn.recv(4096)
    except OSError:
        return False


class NatsServer:
    """One nats-server with JetStream on 127.0.0.1, owned by the test run that made it."""

    def __init__(self, root: Path | None = None) -> None:
        binary = find_nats_server()
        if binary is None:
            raise NatsMissingError(
                "nats-server is missing: install Debian's nats-server (apt-get install "
                "nats-server; ./run tests does)"
            )
        self.binary = binary
        self.root = root or Path(tempfile.mkdtemp(prefix="dockyard-test-nats."))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.root / "nats.log"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the server and return once it answers; raise TimeoutError if it will not."""
        argv = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js",
                "-sd", str(self.root / "store"), "--server_name", "test"]  # fmt: skip
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = self.log_file.read_text(errors="replace")[-400:]
                raise TimeoutError(f"nats-server did not start on {self.url}: {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (JetStream flushes its store), SIGKILL after 10 s. Idempotent."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash: what the store holds is what it wrote before. Idempotent."""
        self._end(signal.SIGKILL)

    def restart(self, *, down_s: float = 0.0, kill: bool = False) -> None:
        """Stop (or kill), stay down `down_s` seconds, start again on the same port and store."""
        self._end(signal.SIGKILL if kill else signal.SIGTERM)
        time.sleep(down_s)
        self.start()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nats_or_skip() -> NatsServer:
    try:
        server = NatsServer()
    except NatsMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the NATS tests: {exc}")
        pytest.skip(str(exc))
    server.start()
    return server


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One nats-server for the whole session, for tests that make no stream of their own or use
    Dockyard's one (every Dockyard stream takes `dockyard.logs.>`, so one server holds one):
    a test that makes a stream under another name takes `own_nats`."""
    server = nats_or_skip()
    yield server
    server.remove()


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A nats-server of this test's own, which it may stop, kill and restart."""
    server = nats_or_skip()
    yield server
    server.remove()
