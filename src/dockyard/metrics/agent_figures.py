"""The agent's latest per-instance figures as the autoscaler needs them, read straight from the
agent's /metrics text (not from Prometheus, which would add a scrape interval), and each
environment's utilisation from two such readings.

`parse` and `utilisation` are pure; `AgentReader` is the thin HTTP adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dockyard.domain.autoscaling import Metric
from dockyard.domain.errors import Unavailable
from dockyard.metrics import definitions as d

Owner = tuple[str, str, str]
"""(team, service, env)."""


@dataclass(frozen=True)
class Figures:
    """One instance's figures at one reading."""

    cpu_s: float | None = None
    working_set_bytes: float | None = None
    memory_limit_bytes: float | None = None


@dataclass(frozen=True)
class Reading:
    """Every instance's figures at one moment, by owner, then by instance id."""

    at: datetime
    instances: Mapping[Owner, Mapping[str, Figures]] = field(default_factory=dict)


_WANTED = {
    d.CPU.name: "cpu_s",
    d.WORKING_SET.name: "working_set_bytes",
    d.MEMORY_LIMIT.name: "memory_limit_bytes",
}


def parse(text: str, *, at: datetime) -> Reading:
    """The instance figures in Prometheus text `text` read at `at`; other families are
    ignored. A malformed text is Unavailable (the autoscaler then holds)."""
    found: dict[Owner, dict[str, dict[str, float]]] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise Unavailable(f"the agent's metrics did not parse: {exc}") from exc
    for family in families:
        name = _WANTED.get(family.name)
        if name is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = sample.labels
            owner = (labels.get("team", ""), labels.get("service", ""), labels.get("env", ""))
            instance = found.setdefault(owner, {}).setdefault(labels.get("instance", ""), {})
            instance[name] = float(sample.value)
    return Reading(
        at,
        {
            owner: {key: _figures(values) for key, values in instances.items()}
            for owner, instances in found.items()
        },
    )


def _figures(values: Mapping[str, float]) -> Figures:
    return Figures(
        cpu_s=values.get("cpu_s"),
        working_set_bytes=values.get("working_set_bytes"),
        memory_limit_bytes=values.get("memory_limit_bytes"),
    )


def utilisation(
    before: Reading | None, latest: Reading, owner: Owner, *, metric: Metric, cpus: float | None
) -> tuple[float, int] | None:
    """The average over `owner`'s instances of each one's figure as a per cent of its limit,
    and how many instances were measured; None if no instance could be measured.

    CPU: CPU seconds used between the two readings per second, over `cpus` (an instance
    must be in both, and `cpus` known). Memory: working set over the memory limit."""
    instances = latest.instances.get(owner) or {}
    if metric is Metric.MEMORY:
        shares = [
            f.working_set_bytes / f.memory_limit_bytes * 100
            for f in instances.values()
            if f.working_set_bytes is not None and f.memory_limit_bytes
        ]
    else:
        shares = _cpu_shares(before, latest, owner, cpus)
    return (sum(shares) / len(shares), len(shares)) if shares else None


def _cpu_shares(
    before: Reading | None, latest: Reading, owner: Owner, cpus: float | None
) -> list[float]:
    if before is None or not cpus:
        return []
    elapsed = (latest.at - before.at).total_seconds()
    if elapsed <= 0:
        return []
    earlier = before.instances.get(owner) or {}
    shares = []
    for instance, now in (latest.instances.get(owner) or {}).items():
        then = earlier.get(instance)
        if now.cpu_s is None or then is None or then.cpu_s is None or now.cpu_s < then.cpu_s:
            continue  # new, or restarted (its counter began again): measured next time
        shares.append((now.cpu_s - then.cpu_s) / elapsed / cpus * 100)
    return shares


class AgentReader:
    """Reads the agent's /metrics at `addr` (HOST:PORT); any failure is Unavailable."""

    def __init__(self, addr: str, *, timeout_s: float = 1.0) -> None:
        self._url = f"http://{addr}/metrics"
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def read(self, at: datetime) -> Reading:
        try:
            answer = await self._client.get(self._url)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise Unavailable(f"the agent at {self._url} did not answer: {exc}") from exc
        return parse(answer.text, at=at)

    async def close(self) -> None:
        await self._client.aclose()
