"""A throwaway etcd for tests: Debian's /usr/bin/etcd on free loopback ports, data in a temp dir.

`EtcdServer.start()` returns once the client port answers; `stop()` ends it by the PID this
module recorded (never by name); `restart()` stops and starts it again on the same ports and
data, which is what the "etcd restart mid-burst" tests need. The session fixture `etcd_server`
is shared by every test that only needs an etcd; a test that restarts etcd makes its own.
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

ETCD_BINARY = "/usr/bin/etcd"
START_TIMEOUT_S = 20.0


class EtcdMissingError(RuntimeError):
    """Debian's etcd-server is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class EtcdServer:
    """One single-member etcd on 127.0.0.1, owned by the test run that made it."""

    def __init__(self, data_root: Path | None = None) -> None:
        if not os.access(ETCD_BINARY, os.X_OK):
            raise EtcdMissingError(
                f"{ETCD_BINARY} is missing: install Debian's etcd-server (apt-get install "
                "etcd-server; ./run tests does)"
            )
        self.root = data_root or Path(tempfile.mkdtemp(prefix="dockyard-test-etcd."))
        self.client_port = free_port()
        self.peer_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start etcd and return once its client port answers; raise TimeoutError if it won't."""
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [
            ETCD_BINARY,
            "--name=test",
            f"--data-dir={self.root / 'data'}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--log-level=warn",
        ]
        with (self.root / "etcd.log").open("ab") as log:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_answers(self.client_port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log_text = (self.root / "etcd.log").read_text(errors="replace")[-400:]
                raise TimeoutError(f"etcd did not start on {self.endpoint}: {log_text}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the etcd this object started (SIGTERM, then SIGKILL after 10 s). Idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, *, down_s: float = 0.0) -> None:
        """Stop, stay down for `down_s` seconds, start again with the same ports and data."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def etcd_or_skip() -> EtcdServer:
    try:
        server = EtcdServer()
    except EtcdMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the etcd tests: {exc}")
        pytest.skip(str(exc))
    server.start()
    return server


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer]:
    """One etcd for the whole session; tests keep apart by using their own key prefix."""
    server = etcd_or_skip()
    yield server
    server.remove()


@pytest.fixture
def own_etcd() -> Iterator[EtcdServer]:
    """An etcd of this test's own, which it may stop and restart."""
    server = etcd_or_skip()
    yield server
    server.remove()
