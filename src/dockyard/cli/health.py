"""`dockyard status`: the health of each part of the platform on this host.

Built from three looks: the PID files of what `dockyard up` started, a ping of the Docker
engine, and the server's own `/healthz` (it answers) and `/healthz/parts` (database, engine,
controllers and builder as the server sees them: `{"database": "ok" | why not, ...}`, plus
`leading` and `leader`: whether this server runs the controllers and who does); the registry,
etcd and the agent's IPAM driver socket are asked directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dockyard.cli import platform
from dockyard.cli.client import ApiClient
from dockyard.cli.errors import CliError
from dockyard.cli.processes import recorded_pid
from dockyard.cli.registry import registry_answers, registry_process
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
    server, reported = _server(settings, probe=probe, server_argv=server_argv)
    rows = [
        server,
        _reported("database", reported),
        _engine(settings, reported),
        _reported("controllers", reported, key="controller"),
        _leader(reported),
        _reported("builder", reported),
        _registry(settings),
        _etcd(settings),
        _agent(settings),
    ]
    return [asdict(row) for row in rows]


def _server(
    settings: Settings, *, probe: ApiClient, server_argv: tuple[str, ...]
) -> tuple[Part, dict[str, Any] | None]:
    """The server's own row, and what it reports about the other parts (None: nothing)."""
    pid = recorded_pid(platform.server_process(settings, server_argv))
    started = f"pid {pid}" if pid else "not started by dockyard up"
    try:
        code, body = probe.probe("/healthz")
    except CliError as exc:
        where = f"pid {pid} runs, but " if pid else ""
        return Part("server", False, where + exc.message), None
    if code != 200:
        why = body.get("message") if isinstance(body, dict) else None
        return Part("server", False, f"{started}; /healthz answered {code}: {why}"), None
    _, parts = probe.probe("/healthz/parts")
    return Part("server", True, f"{started}, {probe.url}"), parts if isinstance(parts, dict) else {}


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


def _engine(settings: Settings, reported: dict[str, Any] | None) -> Part:
    host = settings.docker.host
    if not platform.engine_answers(host):
        return Part("docker engine", False, f"no answer at {host}")
    binary = platform.find_dockerd() or "dockerd"
    pid = recorded_pid(platform.dockerd_process(settings, binary))
    detail = host + (f", dockerd pid {pid} (started by dockyard up)" if pid else "")
    seen = (reported or {}).get("engine", "ok")
    if seen != "ok":
        return Part("docker engine", False, f"{detail}; the server cannot use it: {seen}")
    return Part("docker engine", True, detail)


def _registry(settings: Settings) -> Part:
    registry = settings.images.registry
    pid = recorded_pid(registry_process(settings))
    detail = registry.address + (f", pid {pid} (started by dockyard up)" if pid else "")
    if not registry_answers(registry):
        return Part("registry", False, f"no answer at {registry.address}")
    return Part("registry", True, f"{detail}, {registry.storage} storage")


def _etcd(settings: Settings) -> Part:
    endpoints = settings.etcd.endpoints
    pid = recorded_pid(platform.etcd_process(settings))
    started = f", pid {pid} (started by dockyard up)" if pid else ""
    answering = [e for e in endpoints if platform.etcd_answers(e)]
    if not answering:
        return Part("etcd", False, f"no answer at {', '.join(endpoints)}")
    return Part("etcd", True, f"{len(answering)} of {len(endpoints)} answer{started}")


def _agent(settings: Settings) -> Part:
    socket = settings.ipam.driver_socket
    pid = recorded_pid(platform.agent_process(settings))
    started = f", pid {pid} (started by dockyard up)" if pid else ""
    if not platform.agent_answers(socket):
        return Part("agent", False, f"its IPAM driver does not answer at {socket}")
    return Part("agent", True, f"IPAM driver at {socket}{started}")
