"""The load balancer on this host: what `dockyard up` runs (`dockyard balancer`, a program of
the host's supervisor, after the server whose feed it follows), `down` stops.

HAProxy itself is the balancer's child (discovery/haproxy.py says why). A host without
haproxy installed is reported and `up` goes on: nothing else of the platform needs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx

from dockyard.cli.own_program import own_process
from dockyard.cli.processes import Managed
from dockyard.cli.supervision import supervise
from dockyard.cli.supervisor import Program
from dockyard.metrics.prometheus_config import scrape_address
from dockyard.settings import Settings

BALANCER_START_S = 30.0
BALANCER_STOP_S = 15.0
# Debian installs haproxy in /usr/sbin, which a non-login PATH may lack.
HAPROXY_CANDIDATES = ("/usr/sbin/haproxy", "/usr/bin/haproxy")


def find_haproxy(name: str = "haproxy") -> str | None:
    """The HAProxy binary: `name` on PATH (or a path), else Debian's; None if neither."""
    found = shutil.which(name)
    if found or name != "haproxy":
        return found
    return next((p for p in HAPROXY_CANDIDATES if os.access(p, os.X_OK)), None)


def balancer_dir(settings: Settings) -> Path:
    """HAProxy's configuration, map, sockets and PID file."""
    return settings.paths.state_dir / "balancer"


def balancer_process(settings: Settings) -> Managed:
    return own_process(settings, "balancer")


def balancer_answers(settings: Settings) -> bool:
    """True once HAProxy serves its metrics (the balancer starts it before any snapshot comes:
    on the configuration the last balancer left, or on one with no route)."""
    address = scrape_address(settings.balancer.metrics_addr)
    if address is None:
        return True
    try:
        return httpx.get(f"http://{address}/metrics", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_balancer(settings: Settings, *, env: dict[str, str], base: dict[str, str]) -> str:
    """Make sure this host's balancer runs; one line for `up`."""
    if find_haproxy() is None:
        return "not started: haproxy is not installed (apt-get install haproxy)"
    process = balancer_process(settings)
    done = supervise(
        settings,
        Program(process, stop_s=BALANCER_STOP_S, environment=base),
        env=env,
        answers=lambda: balancer_answers(settings),
        timeout_s=BALANCER_START_S,
        failure=f"the balancer did not start HAProxy (see {process.log_file})",
    )
    return (
        f"{done.describe()}, HTTP routes on {settings.balancer.http_addr}, log {process.log_file}"
    )
