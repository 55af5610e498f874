"""A whole Dockyard platform on this host, as `dockyard up` runs it, for tests that break it.

`dockyard up` starts the registry, etcd, nats-server, the server and the agent under its
supervisor, each on ports, sockets, an etcd prefix and a state directory of the test's own,
beside any other Dockyard on the machine. The Docker engine is the machine's (shared: `up` uses
it as it is and does not supervise it), or with `own_engine` a dockerd of the platform's own
(DOCKYARD_DOCKERD_ROOT), which `up` starts and supervises and a test may kill. The platform is
driven through the `dockyard` CLI, as a user would.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockyard.cli.supervisord import Supervisord, SupervisordPaths
from dockyard.settings import Settings
from tests.support.dns_servers import free_port as free_dns_port
from tests.support.server import free_port

UP_TIMEOUT_S = 180


class Platform:
    """One `dockyard up` in `root`; `cli()` runs the dockyard command against it as admin."""

    def __init__(self, root: Path, *, own_engine: bool = False) -> None:
        self.tag = secrets.token_hex(3)
        home = root / "home"
        etcd_port = free_port()
        tcp_port = free_port()
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "COLUMNS": "200",
            "DOCKYARD_STATE_DIR": str(root / "state"),
            "DOCKYARD_CREDENTIALS_FILE": str(root / "etc" / "credentials.json"),
            "DOCKYARD_LISTEN_PORT": str(free_port()),
            "DOCKYARD_REGISTRY": f"127.0.0.1:{free_port()}",
            "DOCKYARD_ETCD_ENDPOINTS": f"http://127.0.0.1:{etcd_port}",
            # One loopback URL: `up` runs a nats-server of the platform's own on it.
            "DOCKYARD_NATS_URLS": f"nats://127.0.0.1:{free_port()}",
            # Ports of their own, so platforms of parallel tests (or one a developer runs) never
            # share the default metrics ports.
            "DOCKYARD_AGENT_METRICS_ADDR": f"127.0.0.1:{free_port()}",
            "DOCKYARD_INDEXER_METRICS_ADDR": f"127.0.0.1:{free_port()}",
            "DOCKYARD_ARCHIVER_METRICS_ADDR": f"127.0.0.1:{free_port()}",
            "DOCKYARD_BALANCER_METRICS_ADDR": f"127.0.0.1:{free_port()}",
            "DOCKYARD_BALANCER_HTTP_ADDR": f"127.0.0.1:{free_port()}",
            "DOCKYARD_BALANCER_TCP_PORTS": f"{tcp_port}-{tcp_port}",
            # Loopback URLs: `up` runs a Prometheus and an Alertmanager of the platform's own.
            "DOCKYARD_PROMETHEUS_URL": f"http://127.0.0.1:{free_port()}",
            "DOCKYARD_ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}",
            # PowerDNS and dnsmasq on ports free for UDP and TCP, never the host's port 53.
            "DOCKYARD_PDNS_ADDR": f"127.0.0.1:{free_dns_port()}",
            "DOCKYARD_DNS_PORT": str(free_dns_port()),
            "DOCKYARD_ETCD_PREFIX": f"/faults-{self.tag}",
            "DOCKYARD_IPAM_SOCKET": f"/run/docker/plugins/dyf-{self.tag}.sock",
            "DOCKYARD_HOST_NAME": f"faults-{self.tag}",
            "DOCKYARD_IPAM_GC_GRACE_S": "5",
            "DOCKYARD_IPAM_GC_INTERVAL_S": "1",
            "DOCKYARD_DOCKER_NETWORK": "dockyard-test",
            "DOCKYARD_SUPERVISOR": "supervisord",
            "DOCKYARD_RESYNC_INTERVAL_S": "2",
            "DOCKYARD_LEADER_TTL_S": "3",
        }
        for key in ("DOCKYARD_URL", "DOCKYARD_TOKEN", "DOCKYARD_CONFIG"):
            self.env.pop(key, None)
        if own_engine:
            self.env.pop("DOCKYARD_DOCKER_HOST", None)
            # Short: the engine's sockets live under it, and a unix socket path has 107 bytes.
            self.env["DOCKYARD_DOCKERD_ROOT"] = str(root / "dockerd")
        self.settings = Settings.from_env(self.env)
        self.supervisor = Supervisord(SupervisordPaths.of(self.settings))

    def cli(self, *args: str, ok: bool = True, timeout_s: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dockyard.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if ok:
            assert done.returncode == 0, f"dockyard {' '.join(args)}: {done.stderr or done.stdout}"
        return done.stdout + done.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "-o", "json"))

    def up(self) -> str:
        return self.cli("up", timeout_s=UP_TIMEOUT_S)

    def down(self) -> str:
        return self.cli("down", ok=False, timeout_s=UP_TIMEOUT_S)

    def pid(self, program: str) -> int:
        state = self.supervisor.state(program)
        assert state is not None and state.pid, f"{program} is not running: {state}"
        return state.pid

    def log(self, name: str) -> str:
        path = self.settings.paths.logs_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(check: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what}"
        time.sleep(0.2)
