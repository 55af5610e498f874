"""The agent's per-instance metrics: which Dockyard containers run on this host (listed every
few seconds, never per scrape), and at each scrape their cgroup files and veth counters, as the
families of metrics/definitions.py labelled team, service, env, instance and host.

A container is inspected once per start (its PID, cgroup directories, veth and start time),
found by a new id, a stopped one running again, or its PID gone. Containers no longer listed
are forgotten at the next listing, so nothing here grows with instances that came and went.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from dockyard.domain.errors import Unavailable
from dockyard.domain.instance import LABEL_ENV, LABEL_INSTANCE, LABEL_SERVICE, LABEL_TEAM
from dockyard.metrics import definitions as d
from dockyard.metrics.cgroup import CGROUP_ROOT, Layout, layout_of, usage
from dockyard.metrics.netdev import SYS_NET, Traffic, netns_traffic, veth_of, veth_traffic

log = logging.getLogger("dockyard.metrics")

LIST_EVERY_S = 5.0
PROC = Path("/proc")


@dataclass(frozen=True)
class Listed:
    """One container of the engine's listing: its id, labels and whether it runs."""

    container_id: str
    labels: Mapping[str, str]
    running: bool


@dataclass(frozen=True)
class Started:
    """What the engine's inspect says of a container's latest start."""

    pid: int
    started_at: float
    """Unix time."""
    engine_restarts: int
    """Restarts the engine made itself (its restart policy; Dockyard sets none)."""
    health_failing: int | None
    """The image's own HEALTHCHECK failing streak; None when it declares none."""


class Engine(Protocol):
    """The container engine as the collector needs it (agent/metrics_engine.py for Docker)."""

    def listed(self) -> list[Listed]:
        """This host's Dockyard containers, running or not. Unavailable if it cannot say."""
        ...

    def started(self, container_id: str) -> Started | None:
        """The container's latest start, None if it is gone or not running. Unavailable if
        the engine cannot say."""
        ...


@dataclass(frozen=True)
class Tracked:
    """What the collector keeps of one listed container between listings."""

    labels: tuple[str, str, str, str]
    running: bool
    start: Started | None = None
    restarts: int = 0
    layout: Layout | None = None
    veth: str | None = None


class InstanceCollector(Collector):
    """Per-instance metrics of this host's Dockyard containers (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        host: str,
        list_every_s: float = LIST_EVERY_S,
        proc: Path = PROC,
        cgroup_root: Path = CGROUP_ROOT,
        sys_net: Path = SYS_NET,
    ) -> None:
        """`proc`, `cgroup_root` and `sys_net` are where /proc, /sys/fs/cgroup and
        /sys/class/net are (tests point them at fixture trees)."""
        self._engine = engine
        self._host = host
        self._every_s = list_every_s
        self._proc = proc
        self._cgroup_root = cgroup_root
        self._sys_net = sys_net
        self._tracked: dict[str, Tracked] = {}

    @property
    def tracked(self) -> Mapping[str, Tracked]:
        """The containers known now, by id (tests: it must not outgrow the listing)."""
        return dict(self._tracked)

    async def run(self) -> None:
        """List the engine's containers every `list_every_s` until cancelled; an engine that
        cannot answer is logged and asked again at the next round (the last listing stays)."""
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Unavailable as exc:
                log.warning("metrics cannot list containers: %s", exc)
            await asyncio.sleep(self._every_s)

    def running(self) -> int:
        """Instances running at the latest listing."""
        return sum(1 for seen in self._tracked.values() if seen.running)

    def refresh(self) -> None:
        """One listing: inspect what started since the last, forget what is no longer listed.
        The new table replaces the old at once, so a scrape sees one or the other."""
        tracked: dict[str, Tracked] = {}
        for entry in self._engine.listed():
            owner = _owner(entry.labels)
            if owner is not None:
                tracked[entry.container_id] = self._track(entry, owner)
        self._tracked = tracked

    def _track(self, entry: Listed, owner: tuple[str, str, str, str]) -> Tracked:
        before = self._tracked.get(entry.container_id) or Tracked(owner, running=False)
        if not entry.running:
            return replace(before, running=False)
        if before.running and before.start is not None and self._alive(before.start.pid):
            return before
        start = self._engine.started(entry.container_id)
        if start is None:
            return replace(before, running=False)
        again = before.start is not None and start.started_at != before.start.started_at
        return Tracked(
            owner,
            running=True,
            start=start,
            restarts=before.restarts + int(again),
            layout=self._layout(start.pid),
            veth=veth_of(start.pid, proc=self._proc, sys_net=self._sys_net),
        )

    def _alive(self, pid: int) -> bool:
        # A container restarted between two listings has a new PID: inspect it again then.
        return (self._proc / str(pid)).exists()

    def _layout(self, pid: int) -> Layout | None:
        try:
            text = (self._proc / str(pid) / "cgroup").read_text()
            return layout_of(text, root=self._cgroup_root)
        except OSError:
            return None

    def collect(self) -> Iterator[Metric]:
        families = d.families(d.INSTANCE)
        for seen in self._tracked.values():
            if seen.running and seen.start is not None:
                self._add(families, seen, seen.start)
        yield from families.values()

    def _add(self, families: dict[str, d.Family], seen: Tracked, start: Started) -> None:
        labels = [*seen.labels, self._host]

        def put(definition: d.Definition, value: float) -> None:
            families[definition.name].add_metric(labels, value)

        put(d.RESTARTS, seen.restarts + start.engine_restarts)
        put(d.STARTED, start.started_at)
        if start.health_failing is not None:
            put(d.HEALTH_FAILING, start.health_failing)
        figures = usage(seen.layout) if seen.layout is not None else None
        if figures is not None:
            for definition, value in (
                (d.CPU, figures.cpu_s), (d.CPU_PERIODS, figures.periods),
                (d.CPU_THROTTLED, figures.throttled_periods),
                (d.CPU_THROTTLED_S, figures.throttled_s), (d.MEMORY, figures.memory_bytes),
                (d.WORKING_SET, figures.working_set_bytes), (d.OOM_KILLS, figures.oom_kills),
                (d.PIDS, figures.pids), (d.BLOCK_READ, figures.read_bytes),
                (d.BLOCK_WRITTEN, figures.written_bytes),
            ):  # fmt: skip
                put(definition, value)
            if figures.limit_bytes is not None:
                put(d.MEMORY_LIMIT, figures.limit_bytes)
            if figures.cpu_limit_cores is not None:
                put(d.CPU_LIMIT, figures.cpu_limit_cores)
        traffic = self._traffic(seen, start)
        if traffic is not None:
            _add_traffic(put, traffic)

    def _traffic(self, seen: Tracked, start: Started) -> Traffic | None:
        if seen.veth is not None:
            return veth_traffic(seen.veth, sys_net=self._sys_net)
        return netns_traffic(start.pid, proc=self._proc)


def _add_traffic(put: Callable[[d.Definition, float], None], traffic: Traffic) -> None:
    for definition, value in (
        (d.NET_RX, traffic.rx_bytes), (d.NET_TX, traffic.tx_bytes),
        (d.NET_RX_PACKETS, traffic.rx_packets), (d.NET_TX_PACKETS, traffic.tx_packets),
        (d.NET_RX_DROPS, traffic.rx_drops), (d.NET_TX_DROPS, traffic.tx_drops),
    ):  # fmt: skip
        put(definition, value)


def _owner(labels: Mapping[str, str]) -> tuple[str, str, str, str] | None:
    """(team, service, env, instance) of a Dockyard instance's labels; None for others."""
    keys = (LABEL_TEAM, LABEL_SERVICE, LABEL_ENV, LABEL_INSTANCE)
    values = tuple(labels.get(key, "") for key in keys)
    if not all(values):
        return None
    return values[0], values[1], values[2], values[3]
