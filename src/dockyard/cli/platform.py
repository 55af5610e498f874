"""The platform on this host: what `dockyard up`, `down` and `status` start, stop and inspect.

The processes `up` may start: Debian's dockerd (only when no engine answers and none is
configured elsewhere, or as an engine of the platform's own: DOCKYARD_DOCKERD_ROOT), the
registry (cli/registry.py), Debian's etcd (IPAM state, when none answers at the default
endpoint), Debian's nats-server (the log stream, cli/nats.py), `dockyard server`,
`dockyard agent`, and Debian's Alertmanager and Prometheus (cli/monitoring.py). Each runs as a
program of this host's supervisor (cli/supervisor.py), which restarts it whenever it ends, and
logs to <state>/logs/NAME.log; `down` stops only those programs. A part that already answers and is
not a program of the supervisor (a Docker engine run by the host, an etcd cluster) is used as
it is.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from dockyard.cli.balancer import BALANCER_STOP_S, balancer_process
from dockyard.cli.client import ApiClient
from dockyard.cli.errors import CliError
from dockyard.cli.logcenter import CONSUMER_STOP_S, CONSUMERS
from dockyard.cli.monitoring import parts as monitoring_parts
from dockyard.cli.names import STOP_S as NAMES_STOP_S
from dockyard.cli.names import stop_parts as names_parts
from dockyard.cli.nats import NATS_STOP_S, nats_process
from dockyard.cli.own_program import own_process
from dockyard.cli.processes import Managed, stop
from dockyard.cli.registry import REGISTRY_STOP_S, registry_process
from dockyard.cli.supervision import claimed, disown, host_supervisor, supervise
from dockyard.cli.supervisor import Program
from dockyard.network.bridge import ensure_bridge, own_bridge
from dockyard.settings import DockerSettings, Settings, read_credentials

ENGINE_START_S = 60.0
SERVER_START_S = 60.0
DOCKERD_STOP_S = 45.0  # it stops its containers first
SERVER_STOP_S = 15.0
# Debian installs dockerd in /usr/sbin, which a non-login PATH may lack.
DOCKERD_CANDIDATES = ("/usr/sbin/dockerd", "/usr/bin/dockerd")
SERVER_ARGV = (sys.executable, "-m", "dockyard.cli", "server")
DAEMON_JSON = "daemon.json"


def dockerd_process(settings: Settings, binary: str = "dockerd") -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(
        name="dockerd",
        argv=(binary, "--host", settings.docker.host, *own_engine_options(settings.docker)),
        pid_file=run / "dockerd.pid",
        log_file=logs / "dockerd.log",
    )


def own_engine_options(docker: DockerSettings) -> tuple[str, ...]:
    """dockerd's options for an engine of the platform's own (DOCKYARD_DOCKERD_ROOT), none
    for the host's default one.

    Everything a second dockerd would otherwise share with the host's engine is its own: data
    and run roots (so its own containerd, under the run root), PID file, configuration file,
    and its default bridge (network/bridge.py: with `--bridge=none` dockerd deletes the host's
    docker0). iptables stay the host engine's: with them on, a dockerd starting rebuilds the
    DOCKER chains and drops the other engine's rules. Dockyard's containers join networks
    Dockyard makes, so neither the bridge's NAT nor those rules are needed.
    """
    root = docker.dockerd_root
    if root is None:
        return ()
    return (
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'run'}",
        f"--pidfile={root / 'dockerd.pid'}",
        f"--config-file={root / DAEMON_JSON}",
        f"--bridge={own_bridge(root)[0]}",
        "--iptables=false",
        "--ip-masq=false",
    )


def prepare_own_engine(docker: DockerSettings) -> None:
    """Make the own engine's root, its bridge and an empty configuration file, unless they
    exist (an operator may edit ROOT/daemon.json; dockerd refuses a named file that is
    missing)."""
    if docker.dockerd_root is None:
        return
    docker.dockerd_root.mkdir(parents=True, exist_ok=True)
    ensure_bridge(*own_bridge(docker.dockerd_root))
    config = docker.dockerd_root / DAEMON_JSON
    if not config.exists():
        config.write_text("{}\n")


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


def ensure_engine(settings: Settings, *, env: dict[str, str]) -> str:
    """Make sure an engine answers; returns how it stands."""
    docker = settings.docker
    process = dockerd_process(settings, find_dockerd() or "dockerd")
    if engine_answers(docker.host) and not _ours(settings, process):
        return _foreign(settings, process, f"running at {docker.host} (not started by dockyard up)")
    if not docker.managed:
        raise CliError(
            f"no Docker engine answers at {docker.host} (DOCKYARD_DOCKER_HOST): start it, "
            "or unset DOCKYARD_DOCKER_HOST to let `dockyard up` start this host's dockerd "
            "(or set DOCKYARD_DOCKERD_ROOT for one of the platform's own)"
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
    prepare_own_engine(docker)
    done = supervise(
        settings,
        Program(dockerd_process(settings, binary), stop_s=DOCKERD_STOP_S, signal_group=False),
        env=env,
        answers=lambda: engine_answers(docker.host),
        timeout_s=ENGINE_START_S,
        failure=f"dockerd did not answer at {docker.host} within {ENGINE_START_S:g} s",
    )
    return f"dockerd {done.describe()} at {docker.host}, log {process.log_file}"


def _ours(settings: Settings, process: Managed) -> bool:
    """True if `up` runs this part here (supervision.claimed)."""
    return claimed(host_supervisor(settings), process)


def _foreign(settings: Settings, process: Managed, answer: str) -> str:
    """`answer`, once a program of an earlier `up` that another process now stands in for is
    forgotten (supervision.disown)."""
    disown(host_supervisor(settings), process)
    return answer


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
    if not _ours(settings, process) and server_answers(probe):
        answer = f"a server not started by `dockyard up` already answers at {url}"
        return ServerStart(_foreign(settings, process, answer), None)
    first_start = read_credentials(settings.paths.credentials_file) is None
    done = supervise(
        settings,
        Program(process, stop_s=SERVER_STOP_S, environment=dockyard_environment(env)),
        env=env,
        answers=lambda: server_answers(probe),
        timeout_s=SERVER_START_S,
        failure=f"the server did not come up at {url}",
    )
    credentials = read_credentials(settings.paths.credentials_file) if first_start else None
    token = credentials.token if credentials else None
    return ServerStart(f"{done.describe()}, listening on {url}, log {process.log_file}", token)


def dockyard_environment(env: dict[str, str]) -> dict[str, str]:
    """The variables a Dockyard process takes its settings from, written into its program so
    that an `up` with other settings restarts it with them."""
    return {key: value for key, value in env.items() if key.startswith("DOCKYARD_")}


# -- etcd (IPAM state) ------------------------------------------------------------------------

ETCD_BINARY = "/usr/bin/etcd"
ETCD_START_S = 30.0
ETCD_STOP_S = 15.0


def etcd_process(settings: Settings) -> Managed:
    """Debian's etcd as one single-member cluster on the default endpoint, data in the state dir."""
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    client = settings.etcd.endpoints[0]
    host, port = _host_port(client)
    peer = f"http://{host}:{port + 1}"
    return Managed(
        name="etcd",
        argv=(
            ETCD_BINARY,
            "--name=dockyard",
            f"--data-dir={settings.paths.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=dockyard={peer}",
        ),
        pid_file=run / "etcd.pid",
        log_file=logs / "etcd.log",
    )


def _host_port(endpoint: str) -> tuple[str, int]:
    netloc = endpoint.removeprefix("http://").split("/")[0]
    host, _, port = netloc.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else (netloc, 2379)


def etcd_answers(endpoint: str) -> bool:
    """True if etcd's /health at `endpoint` says it is healthy."""
    try:
        with httpx.Client(base_url=endpoint, timeout=2.0) as http:
            answer = http.get("/health")
    except httpx.HTTPError:
        return False
    return answer.status_code == httpx.codes.OK and '"true"' in answer.text


def ensure_etcd(settings: Settings, *, env: dict[str, str]) -> str:
    """Make sure the configured etcd answers, starting this host's one if up manages it."""
    endpoints = settings.etcd.endpoints
    process = etcd_process(settings)
    if not _ours(settings, process) and any(etcd_answers(endpoint) for endpoint in endpoints):
        answer = f"running at {', '.join(endpoints)} (not started by dockyard up)"
        return _foreign(settings, process, answer)
    if not settings.etcd.managed:
        raise CliError(
            f"no etcd answers at {', '.join(endpoints)} (DOCKYARD_ETCD_ENDPOINTS): start it, or "
            "unset DOCKYARD_ETCD_ENDPOINTS (or name one loopback endpoint) to let `dockyard up` "
            "start this host's etcd"
        )
    if not os.access(ETCD_BINARY, os.X_OK):
        raise CliError(
            f"no etcd answers at {endpoints[0]} and {ETCD_BINARY} is not installed: install it "
            "with `apt-get install etcd-server` (or run ./run up)"
        )
    done = supervise(
        settings,
        Program(process, stop_s=ETCD_STOP_S),
        env=env,
        answers=lambda: etcd_answers(endpoints[0]),
        timeout_s=ETCD_START_S,
        failure=f"etcd did not answer at {endpoints[0]} within {ETCD_START_S:g} s",
    )
    return f"etcd {done.describe()} at {endpoints[0]}, log {process.log_file}"


# -- the agent (Docker IPAM driver, segment networks) ------------------------------------------

AGENT_ARGV = (sys.executable, "-m", "dockyard.cli", "agent")
AGENT_START_S = 30.0
AGENT_STOP_S = 15.0


def agent_process(settings: Settings, argv: tuple[str, ...] = AGENT_ARGV) -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(name="agent", argv=argv, pid_file=run / "agent.pid", log_file=logs / "agent.log")


def agent_answers(socket: Path) -> bool:
    """True if the IPAM driver on `socket` answers Plugin.Activate."""
    if not socket.exists():
        return False
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), timeout=2.0) as http:
            answer = http.post("http://agent/Plugin.Activate", content=b"{}")
    except httpx.HTTPError:
        return False
    return answer.status_code == httpx.codes.OK and "IpamDriver" in answer.text


def ensure_agent(settings: Settings, *, env: dict[str, str]) -> str:
    """Make sure this host's agent serves the IPAM driver, starting it if needed (root only)."""
    socket = settings.ipam.driver_socket
    process = agent_process(settings)
    ours = _ours(settings, process)
    if not ours and agent_answers(socket):
        return _foreign(settings, process, f"an agent not started by `dockyard up` serves {socket}")
    if not ours and os.geteuid() != 0:
        return f"not started: only root may serve Docker's IPAM driver at {socket}"
    done = supervise(
        settings,
        Program(process, stop_s=AGENT_STOP_S, environment=dockyard_environment(env)),
        env=env,
        answers=lambda: agent_answers(socket),
        timeout_s=AGENT_START_S,
        failure=f"the agent did not serve {socket}",
    )
    return f"{done.describe()}, IPAM driver at {socket}, log {process.log_file}"


def stop_platform(settings: Settings, *, server_argv: tuple[str, ...]) -> list[str]:
    """Stop what `up` started, through the supervisor (server first, dockerd last), then the
    supervisor itself; one line per part."""
    supervisor = host_supervisor(settings)
    names_stop = names_parts(settings)
    parts = [
        *((m.label, m.process, m.stop_s, NOT_OURS) for m in reversed(monitoring_parts(settings))),
        ("balancer", balancer_process(settings), BALANCER_STOP_S, "was not running"),
        *((label, process, NAMES_STOP_S, "was not running") for label, process in names_stop),
        ("server", server_process(settings, server_argv), SERVER_STOP_S, "was not running"),
        ("registry", registry_process(settings), REGISTRY_STOP_S, NOT_OURS),
        ("agent", agent_process(settings), AGENT_STOP_S, "was not running"),
        *(
            (name, own_process(settings, name), CONSUMER_STOP_S, "was not running")
            for name in CONSUMERS
        ),
        ("nats", nats_process(settings), NATS_STOP_S, NOT_OURS),
        ("etcd", etcd_process(settings), ETCD_STOP_S, NOT_OURS),
        ("docker engine", dockerd_process(settings, find_dockerd() or "dockerd"),
         DOCKERD_STOP_S, f"{NOT_OURS}; left alone"),
    ]  # fmt: skip
    lines = []
    for label, process, stop_s, otherwise in parts:
        # An unsupervised process of an older `up` (its PID file) is stopped as well.
        pid = supervisor.uninstall(process.name) or stop(process, timeout_s=stop_s)
        lines.append(f"{label}: stopped (pid {pid})" if pid else f"{label}: {otherwise}")
    pid = supervisor.shutdown()
    lines.append(f"supervisor: stopped (pid {pid})" if pid else "supervisor: was not running")
    return lines


NOT_OURS = "not started by `dockyard up`"
