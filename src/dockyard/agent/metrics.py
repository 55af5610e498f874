"""The agent's host and instance metrics part: the Docker engine as the instance collector
needs it (metrics/instances.py: a listing of this host's Dockyard containers, and one inspect
per container start), and the part that keeps that listing fresh until the agent stops.
The collectors are served from the same registry as the log center's families (cli agent)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import docker
from docker.errors import DockerException
from docker.errors import NotFound as EngineNotFound
from requests.exceptions import RequestException

from dockyard.domain.errors import Unavailable
from dockyard.domain.instance import LABEL_MANAGED
from dockyard.metrics.instances import Listed, Started

RFC3339 = re.compile(r"([0-9-]+T[0-9:]+)(?:\.([0-9]+))?(Z|[+-][0-9:]+)?")


class DockerContainers:
    """`metrics.instances.Engine` over the Docker Engine API; its errors become Unavailable."""

    def __init__(self, client: docker.APIClient) -> None:
        self._client = client

    def listed(self) -> list[Listed]:
        try:
            entries = self._client.containers(all=True, filters={"label": LABEL_MANAGED})
        except (DockerException, RequestException) as exc:
            raise Unavailable(f"the engine did not list its containers: {exc}") from exc
        return [
            Listed(e["Id"], e.get("Labels") or {}, e.get("State") == "running") for e in entries
        ]

    def started(self, container_id: str) -> Started | None:
        try:
            info = self._client.inspect_container(container_id)
        except EngineNotFound:
            return None
        except (DockerException, RequestException) as exc:
            raise Unavailable(f"the engine did not inspect {container_id[:12]}: {exc}") from exc
        return started_of(info)


def started_of(info: dict[str, Any]) -> Started | None:
    """The latest start in an inspect answer; None unless it runs with a PID."""
    state = info.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        return None
    health = state.get("Health")
    return Started(
        pid=pid,
        started_at=unix_time(str(state.get("StartedAt") or "")),
        engine_restarts=int(info.get("RestartCount") or 0),
        health_failing=int(health.get("FailingStreak") or 0) if health else None,
    )


def unix_time(text: str) -> float:
    """Unix time of the engine's RFC 3339 time with nanoseconds (`...T10:11:12.123456789Z`);
    0 for what does not parse. Python reads at most microseconds: the rest is cut."""
    found = RFC3339.fullmatch(text.strip())
    if found is None:
        return 0.0
    head, fraction, zone = found.groups()
    zone = "+00:00" if zone in ("Z", "") else zone
    try:
        moment = datetime.fromisoformat(f"{head}.{(fraction or '0')[:6]}{zone}")
    except ValueError:
        return 0.0
    return moment.timestamp()
