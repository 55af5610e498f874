"""`dockyard status`: the health of each part of the platform on this host.

Built from four looks: what this host's supervisor says of each program `dockyard up` started
(state, PID, restarts it had to make and why: cli/supervisor.py), a ping of the Docker
engine, and the server's own `/healthz` (it answers) and `/healthz/parts` (database, engine,
controllers and builder as the server sees them: `{"database": "ok" | why not, ...}`, plus
`leading` and `leader`: whether this server runs the controllers and who does); the registry,
etcd, the log stream's nats-server, the agent's IPAM driver socket, and Prometheus's and
Alertmanager's /-/ready (here or at their configured URLs) are asked directly, and
the state directory's disk is measured (nearly full is unhealthy).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dockyard.cli import monitoring, names, platform
from dockyard.cli.balancer import balancer_answers, balancer_process, find_haproxy
from dockyard.cli.client import ApiClient
from dockyard.cli.errors import CliError
from dockyard.cli.logcenter import CONSUMERS
from dockyard.cli.monitoring import parts as monitoring_parts
from dockyard.cli.monitoring import ready_problem, targets_health
from dockyard.cli.nats import nats_problem, nats_process
from dockyard.cli.own_program import is_ready, own_process
from dockyard.cli.processes import Managed
from dockyard.cli.registry import registry_answers, registry_process
from dockyard.cli.supervision import host_supervisor
from dockyard.cli.supervisor import FATAL, Exits, HostSupervisor, ProgramState
from dockyard.settings import Settings

NOT_ANSWERING = "unknown: the server does not answer"


@dataclass(frozen=True)
class Part:
    part: str
    healthy: bool
    detail: str


def check_parts(
    settings: Settings, *, probe: ApiClient, server_argv: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One row per part: server, database, docker engine, controllers (as JSON-ready dicts)."""
    programs = Programs(host_supervisor(settings))
    server, reported = _server(settings, programs, probe=probe, server_argv=server_argv)
    rows = [
        programs.row(),
        server,
        _reported("database", reported),
        _engine(settings, programs, reported),
        _reported("controllers", reported, key="controller"),
        _leader(reported),
        _reported("builder", reported),
        _registry(settings, programs),
        _etcd(settings, programs),
        _nats(settings, programs),
        *(_consumer(settings, programs, name) for name in CONSUMERS),
        *_names(settings, programs),
        _agent(settings, programs),
        _balancer(settings, programs),
        *(_monitoring(programs, part) for part in monitoring_parts(settings)),
        state_disk(settings.paths.state_dir),
    ]
    return [asdict(row) for row in rows]


FULL_BELOW = 16 << 20
"""Less free space than this on the state directory's disk reads as full: the database, etcd,
the registry and every log are written there (and the server refuses writes with 507)."""


def state_disk(state_dir: Path, *, full_below: int = FULL_BELOW) -> Part:
    """The disk the platform keeps its state on: its free space, unhealthy when (nearly) full."""
    existing = next((p for p in (state_dir, *state_dir.parents) if p.exists()), Path("/"))
    usage = shutil.disk_usage(existing)
    free = f"{usage.free / (1 << 20):,.1f} MiB free of {usage.total / (1 << 20):,.0f} MiB"
    if usage.free < full_below:
        return Part(
            "state disk", False, f"{state_dir}: full, {free}: writes are refused and processes "
            "writing there may end; free space on it, then run `dockyard up`"
        )  # fmt: skip
    return Part("state disk", True, f"{state_dir}: {free}")


class Programs:
    """What the supervisor says of the programs `up` started, read once per `status`."""

    def __init__(self, supervisor: HostSupervisor) -> None:
        self._supervisor = supervisor
        self._pid = supervisor.pid()
        self._exits = supervisor.exits() if self._pid else {}

    def row(self) -> Part:
        if self._pid is not None:
            return Part("supervisor", True, self._supervisor.describe())
        if self._supervisor.any_configured():
            return Part(
                "supervisor", False, f"{self._supervisor.describe()}: nothing restarts the "
                "platform's processes; run `dockyard up`"
            )  # fmt: skip
        return Part("supervisor", True, "not started: `dockyard up` runs nothing on this host")

    def describe(self, process: Managed) -> tuple[str, bool]:
        """(", pid N (supervised, ...)" or "", False if the supervisor gave up on it)."""
        state = self._supervisor.state(process.name) if self._pid else None
        if state is None:
            return "", True
        history = self._exits.get(process.name, Exits())
        words = [_state_words(state)]
        if history.count:
            words.append(f"restarts {history.count} (last exit {history.last})")
            error = last_error(self._supervisor.log_lines(process))
            if error:
                words.append(f"last error: {error}")
        healthy = state.state != FATAL
        if not healthy:
            words.append(f"run `dockyard up` to try again; log {process.log_file}")
        return ", " + "; ".join(words), healthy


def _state_words(state: ProgramState) -> str:
    if state.running:
        return f"pid {state.pid} (supervised, {state.description.split(', ')[-1]})"
    if state.alive:
        return f"pid {state.pid} (supervised, starting)"
    if state.state == FATAL:
        return f"supervisor gave up after repeated quick exits: {state.description}"
    return f"supervised, {state.state.lower()}: {state.description}"


# Not "Traceback": its first line says nothing, and a Python error is logged at ERROR first.
ERROR_MARKS = ("ERROR", "CRITICAL", "FATAL", "panic:", "exiting with status")
ERROR_WIDTH = 160


def last_error(lines: list[str]) -> str | None:
    """The last of a program's log lines that reads as an error, shortened."""
    for line in reversed(lines):
        if any(mark in line for mark in ERROR_MARKS):
            text = line.strip()
            return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 3] + "..."
    return None


def _server(
    settings: Settings, programs: Programs, *, probe: ApiClient, server_argv: tuple[str, ...]
) -> tuple[Part, dict[str, Any] | None]:
    """The server's own row, and what it reports about the other parts (None: nothing)."""
    supervised, alive = programs.describe(platform.server_process(settings, server_argv))
    started = supervised.removeprefix(", ") or "not started by dockyard up"
    try:
        code, body = probe.probe("/healthz")
    except CliError as exc:
        return Part("server", False, f"{exc.message}{supervised}"), None
    if code != 200:
        why = body.get("message") if isinstance(body, dict) else None
        return Part("server", False, f"{started}; /healthz answered {code}: {why}"), None
    _, parts = probe.probe("/healthz/parts")
    reported = parts if isinstance(parts, dict) else {}
    return Part("server", alive, f"{probe.url}, {started}"), reported


def _reported(name: str, reported: dict[str, Any] | None, *, key: str | None = None) -> Part:
    if reported is None:
        return Part(name, False, NOT_ANSWERING)
    value = reported.get(key or name)
    if value is None:
        return Part(name, False, "not reported by the server's /healthz/parts")
    return Part(name, value == "ok", str(value))


def _leader(reported: dict[str, Any] | None) -> Part:
    """Who runs the controllers: this server, another one (this one stands by), or no one."""
    if reported is None:
        return Part("leader", False, NOT_ANSWERING)
    if "leading" not in reported:
        return Part("leader", False, "not reported by the server's /healthz/parts")
    leader = reported.get("leader")
    if reported["leading"]:
        return Part("leader", True, str(leader))
    if leader is None:
        return Part("leader", False, "no server leads now: the controllers run nowhere")
    return Part("leader", True, f"{leader}; this server stands by")


def _engine(settings: Settings, programs: Programs, reported: dict[str, Any] | None) -> Part:
    host = settings.docker.host
    binary = platform.find_dockerd() or "dockerd"
    supervised, alive = programs.describe(platform.dockerd_process(settings, binary))
    if not platform.engine_answers(host):
        return Part("docker engine", False, f"no answer at {host}{supervised}")
    detail = host + supervised.replace(", pid", ", dockerd pid", 1)
    seen = (reported or {}).get("engine", "ok")
    if seen != "ok":
        return Part("docker engine", False, f"{detail}; the server cannot use it: {seen}")
    return Part("docker engine", alive, detail)


def _registry(settings: Settings, programs: Programs) -> Part:
    registry = settings.images.registry
    supervised, alive = programs.describe(registry_process(settings))
    if not registry_answers(registry):
        return Part("registry", False, f"no answer at {registry.address}{supervised}")
    return Part("registry", alive, f"{registry.address}, {registry.storage} storage{supervised}")


def _etcd(settings: Settings, programs: Programs) -> Part:
    endpoints = settings.etcd.endpoints
    supervised, alive = programs.describe(platform.etcd_process(settings))
    answering = [e for e in endpoints if platform.etcd_answers(e)]
    if not answering:
        return Part("etcd", False, f"no answer at {', '.join(endpoints)}{supervised}")
    return Part("etcd", alive, f"{len(answering)} of {len(endpoints)} answer{supervised}")


def _nats(settings: Settings, programs: Programs) -> Part:
    """The log stream's servers: how many answer with JetStream ready."""
    urls = settings.logs.nats_urls
    supervised, alive = programs.describe(nats_process(settings))
    problems = [nats_problem(url) for url in urls]
    answering = problems.count(None)
    if not answering:
        why = next(p for p in problems if p is not None)
        return Part("nats", False, f"{why}{supervised}")
    return Part("nats", alive, f"JetStream: {answering} of {len(urls)} answer{supervised}")


def _consumer(settings: Settings, programs: Programs, name: str) -> Part:
    """The indexer or the archiver: running and through to the log stream."""
    supervised, alive = programs.describe(own_process(settings, name))
    if not is_ready(settings, name):
        return Part(name, False, f"not consuming the log stream{supervised or ': not running'}")
    return Part(name, alive, f"consuming the log stream{supervised}")


def _agent(settings: Settings, programs: Programs) -> Part:
    socket = settings.ipam.driver_socket
    supervised, alive = programs.describe(platform.agent_process(settings))
    if not platform.agent_answers(socket):
        return Part("agent", False, f"its IPAM driver does not answer at {socket}{supervised}")
    return Part("agent", alive, f"IPAM driver at {socket}{supervised}")


def _balancer(settings: Settings, programs: Programs) -> Part:
    """The balancer: its HAProxy serving (its exporter answers); a host without haproxy
    installed runs none, which `up` said, and which is no fault here."""
    if find_haproxy() is None:
        return Part("balancer", True, "not run: haproxy is not installed")
    supervised, alive = programs.describe(balancer_process(settings))
    routes = settings.balancer.http_addr
    if not balancer_answers(settings):
        return Part("balancer", False, f"HAProxy does not serve{supervised or ': not running'}")
    return Part("balancer", alive, f"HTTP routes on {routes}{supervised}")


def _monitoring(programs: Programs, part: monitoring.Part) -> Part:
    """Prometheus or Alertmanager: ready at its URL, run here or elsewhere."""
    supervised, alive = programs.describe(part.process)
    where = supervised if part.managed else " (an existing one, not run here)"
    problem = ready_problem(part.url)
    if problem is not None:
        return Part(part.label, False, f"{problem}{where}")
    detail = f"ready at {part.url}"
    targets = targets_health(part.url) if part.label == "prometheus" else None
    if targets:  # a target down is the agent's (or indexer's ...) row to report, not this one
        detail += f", {targets}"
    return Part(part.label, alive, detail + where)


def _names(settings: Settings, programs: Programs) -> list[Part]:
    """The name server, PowerDNS and dnsmasq: each answering (one row when names are off or
    their programs are not installed: the rest of the platform does not need them)."""
    if not settings.names.enabled:
        return [Part("names", True, "off (DOCKYARD_DNS=off)")]
    if absent := names.missing(settings):
        return [
            Part(
                "names", True,
                f"not served: {', '.join(absent)} missing (`apt-get install {names.PACKAGES}`)",
            )
        ]  # fmt: skip
    name_server = own_process(settings, "names")
    pdns, dnsmasq = names.pdns_process(settings), names.dnsmasq_process(settings)
    zone, resolver = settings.names.zone, names.resolver(settings)
    rows = []
    for process, problem, where in (
        (name_server, None if is_ready(settings, "names") else "not listening for PowerDNS",
         str(names.dns_layout(settings).backend_socket)),
        (pdns, names.dns_problem(settings.names.pdns, zone), settings.names.pdns_addr),
        (dnsmasq, names.dns_problem(resolver, zone), f"{resolver[0]}#{resolver[1]}"),
    ):  # fmt: skip
        supervised, alive = programs.describe(process)
        if problem is not None:
            rows.append(Part(process.name, False, f"{problem}{supervised}"))
        else:
            rows.append(Part(process.name, alive, f"answering at {where}{supervised}"))
    return rows
