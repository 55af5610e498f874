"""`dockyard server` as a child process over a state directory, for end-to-end tests and
benchmarks: started, killed with SIGKILL, started again over the same state."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One server over `state_dir`, listening on a free loopback port."""

    def __init__(self, state_dir: Path, *, network: str, extra_env: dict[str, str] | None = None):
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DOCKYARD_STATE_DIR": str(state_dir),
            "DOCKYARD_CREDENTIALS_FILE": str(state_dir / "credentials.json"),
            "DOCKYARD_LISTEN_PORT": str(self.port),
            "DOCKYARD_DOCKER_NETWORK": network,
            "DOCKYARD_LOG_LEVEL": "warning",
            # A prefix of its own: a server publishes its segments to etcd and withdraws the
            # rest, so on the default prefix it would take another platform's segments away.
            "DOCKYARD_ETCD_PREFIX": f"/test-{secrets.token_hex(4)}",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def token(self) -> str:
        return str(json.loads((self.state_dir / "credentials.json").read_text())["token"])

    def client(self, *, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )

    def start(self, *, timeout_s: float = 60) -> None:
        log = (self.state_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dockyard.cli", "server"],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockyard server exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"dockyard server did not answer in {timeout_s}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 30) -> str:
        path = self.state_dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_server(
    state_dir: Path, *, network: str, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    server = ServerProcess(state_dir, network=network, extra_env=extra_env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
