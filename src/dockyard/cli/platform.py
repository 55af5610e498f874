"""The platform on this host: what `dockyard up`, `down` and `status` start, stop and inspect.

Two processes may be started: Debian's dockerd (only when no engine answers and none is
configured elsewhere) and `dockyard server`. Each is recorded in <state>/run/NAME.pid and logs to
<state>/logs/NAME.log; `down` stops only what is recorded there.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from dockyard.cli.client import ApiClient
from dockyard.cli.errors import CliError
from dockyard.cli.processes import (
    Managed,
    is_alive,
    log_tail,
    recorded_pid,
    spawn,
    stop,
    wait_until,
)
from dockyard.settings import Settings, read_credentials

ENGINE_START_S = 60.0
SERVER_START_S = 60.0
DOCKERD_STOP_S = 45.0  # it stops its containers first
SERVER_STOP_S = 15.0
# Debian installs dockerd in /usr/sbin, which a non-login PATH may lack.
DOCKERD_CANDIDATES = ("/usr/sbin/dockerd", "/usr/bin/dockerd")
SERVER_ARGV = (sys.executable, "-m", "dockyard.cli", "server")


def dockerd_process(settings: Settings, binary: str = "dockerd") -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(
        name="dockerd",
        argv=(binary, "--host", settings.docker.host),
        pid_file=run / "dockerd.pid",
        log_file=logs / "dockerd.log",
    )


def server_process(settings: Settings, argv: tuple[str, ...] = SERVER_ARGV) -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(
        name="server", argv=argv, pid_file=run / "server.pid", log_file=logs / "server.log"
    )


def find_dockerd() -> str | None:
    found = shutil.which("dockerd")
    return found or next((p for p in DOCKERD_CANDIDATES if os.access(p, os.X_OK)), None)


def engine_answers(docker_host: str) -> bool:
    """True if the Docker engine at `docker_host` answers GET /_ping."""
    if docker_host.startswith("unix://"):
        socket = docker_host.removeprefix("unix://")
        if not Path(socket).exists():
            return False
        transport = httpx.HTTPTransport(uds=socket)
        base = "http://docker"
    else:
        transport, base = httpx.HTTPTransport(), "http://" + docker_host.removeprefix("tcp://")
    try:
        with httpx.Client(transport=transport, base_url=base, timeout=2.0) as http:
            return http.get("/_ping").status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


def ensure_engine(settings: Settings) -> str:
    """Make sure an engine answers; returns how it stands ("already running" / "started ...")."""
    docker = settings.docker
    if engine_answers(docker.host):
        mine = recorded_pid(dockerd_process(settings, find_dockerd() or "dockerd"))
        return f"running at {docker.host}" + (
            f" (pid {mine}, started by dockyard up)" if mine else ""
        )
    if not docker.host_is_default:
        raise CliError(
            f"no Docker engine answers at {docker.host} (DOCKYARD_DOCKER_HOST): start it, "
            "or unset DOCKYARD_DOCKER_HOST to let `dockyard up` start this host's dockerd"
        )
    binary = find_dockerd()
    if binary is None:
        raise CliError(
            f"no Docker engine answers at {docker.host} and dockerd is not installed: "
            "install it with `apt-get install docker.io` (or run ./run up)"
        )
    if os.geteuid() != 0:
        raise CliError(
            f"no Docker engine answers at {docker.host}, and only root may start dockerd: "
            "run `sudo dockyard up`, or start Docker yourself"
        )
    process = dockerd_process(settings, binary)
    pid = spawn(process, env=dict(os.environ))
    if not wait_until(
        lambda: engine_answers(docker.host),
        timeout_s=ENGINE_START_S,
        interval_s=0.2,
        give_up=lambda: not is_alive(pid),
    ):
        raise CliError(
            f"dockerd (pid {pid}) did not answer at {docker.host} within {ENGINE_START_S:g} s: "
            f"see {process.log_file}: {log_tail(process.log_file)}"
        )
    return f"started dockerd (pid {pid}) at {docker.host}, log {process.log_file}"


@dataclass(frozen=True)
class ServerStart:
    message: str
    admin_token: str | None
    """The admin token, when this start created it (the first start of the platform)."""


def server_answers(probe: ApiClient) -> bool:
    """True if something answers GET /healthz at the probe's URL (healthy or not)."""
    try:
        probe.probe()
    except CliError:
        return False
    return True


def ensure_server(
    settings: Settings, *, probe: ApiClient, env: dict[str, str], argv: tuple[str, ...]
) -> ServerStart:
    """Make sure `dockyard server` answers at the configured address, starting it if needed."""
    process = server_process(settings, argv)
    url = settings.listen.local_url
    recorded = recorded_pid(process)
    if recorded is None and server_answers(probe):
        return ServerStart(f"a server not started by `dockyard up` already answers at {url}", None)
    first_start = read_credentials(settings.paths.credentials_file) is None
    pid = spawn(process, env=env) if recorded is None else recorded
    how = f"started (pid {pid})" if recorded is None else f"already running (pid {pid})"
    if not wait_until(
        lambda: server_answers(probe),
        timeout_s=SERVER_START_S,
        interval_s=0.2,
        give_up=lambda: not is_alive(pid),
    ):
        stop(process, timeout_s=SERVER_STOP_S)
        raise CliError(
            f"the server did not come up at {url}: see {process.log_file}: "
            f"{log_tail(process.log_file)}"
        )
    credentials = read_credentials(settings.paths.credentials_file) if first_start else None
    token = credentials.token if credentials else None
    return ServerStart(f"{how}, listening on {url}, log {process.log_file}", token)


def stop_platform(settings: Settings, *, server_argv: tuple[str, ...]) -> list[str]:
    """Stop what `up` recorded (server first, then its dockerd); one line per part."""
    lines = []
    server = stop(server_process(settings, server_argv), timeout_s=SERVER_STOP_S)
    lines.append(f"server: stopped (pid {server})" if server else "server: was not running")
    dockerd = stop(dockerd_process(settings, find_dockerd() or "dockerd"), timeout_s=DOCKERD_STOP_S)
    lines.append(
        f"docker engine: stopped dockerd (pid {dockerd})"
        if dockerd
        else "docker engine: not started by `dockyard up`; left alone"
    )
    return lines
