"""The autoscaler's reading of the agent: figures parsed from real Prometheus text (as the
agent's families render it), utilisation per environment from two readings, and the reader
against a real HTTP exporter on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from dockyard.domain.autoscaling import Metric as Target
from dockyard.domain.errors import Unavailable
from dockyard.metrics import definitions as d
from dockyard.metrics.agent_figures import AgentReader, Reading, parse, utilisation
from tests.support.nats import free_port

T0 = datetime(2026, 12, 7, tzinfo=UTC)
OWNER = ("alpha", "web", "test")


class Instances(Collector):
    """The agent's instance families with chosen figures: {instance: (cpu_s, working set)}."""

    def __init__(self) -> None:
        self.figures: dict[str, tuple[float, float]] = {}

    def collect(self) -> Iterator[Metric]:
        families = d.families(d.INSTANCE)
        for instance, (cpu_s, working_set) in self.figures.items():
            labels = [*OWNER, instance, "host1"]
            families[d.CPU.name].add_metric(labels, cpu_s)
            families[d.WORKING_SET.name].add_metric(labels, working_set)
            families[d.MEMORY_LIMIT.name].add_metric(labels, 256 * 2**20)
            families[d.PIDS.name].add_metric(labels, 3)
        other = [*OWNER[:2], "online", "i9", "host1"]
        families[d.CPU.name].add_metric(other, 999.0)
        yield from families.values()


@pytest.fixture
def instances() -> tuple[Instances, CollectorRegistry]:
    registry = CollectorRegistry()
    collector = Instances()
    registry.register(collector)
    return collector, registry


def test_cpu_utilisation_is_cpu_time_over_time_over_the_limit(
    instances: tuple[Instances, CollectorRegistry],
) -> None:
    collector, registry = instances
    collector.figures = {"i1": (10.0, 0), "i2": (20.0, 0)}
    before = parse(generate_latest(registry).decode(), at=T0)
    # Over 2 s, i1 used 0.9 CPU s and i2 0.5: 45 % and 25 % of a 1-CPU limit each.
    collector.figures = {"i1": (10.9, 0), "i2": (20.5, 0), "i3": (1.0, 0)}
    latest = parse(generate_latest(registry).decode(), at=T0 + timedelta(seconds=2))
    measured = utilisation(before, latest, OWNER, metric=Target.CPU, cpus=1.0)
    assert measured is not None
    assert measured[0] == pytest.approx(35.0)
    assert measured[1] == 2  # i3 is new: measured from the next reading on


def test_memory_utilisation_is_working_set_over_the_limit(
    instances: tuple[Instances, CollectorRegistry],
) -> None:
    collector, registry = instances
    collector.figures = {"i1": (0, 128 * 2**20), "i2": (0, 64 * 2**20)}
    latest = parse(generate_latest(registry).decode(), at=T0)
    assert utilisation(None, latest, OWNER, metric=Target.MEMORY, cpus=None) == (37.5, 2)


def test_an_environment_without_instances_has_no_figure(
    instances: tuple[Instances, CollectorRegistry],
) -> None:
    _, registry = instances
    latest = parse(generate_latest(registry).decode(), at=T0)
    assert utilisation(latest, latest, OWNER, metric=Target.CPU, cpus=1.0) is None


def test_malformed_text_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        parse("dockyard_instance_cpu_seconds_total{team=\n", at=T0)


def test_the_reader_reads_a_real_exporter_and_an_absent_one_is_unavailable(
    instances: tuple[Instances, CollectorRegistry],
) -> None:
    collector, registry = instances
    collector.figures = {"i1": (3.0, 1.0)}
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        reading = asyncio.run(_read(f"127.0.0.1:{port}"))
        assert reading.instances[OWNER]["i1"].cpu_s == 3.0
    finally:
        server.shutdown()
        thread.join(timeout=5)
    with pytest.raises(Unavailable, match="did not answer"):
        asyncio.run(_read(f"127.0.0.1:{port}"))


async def _read(addr: str) -> Reading:
    reader = AgentReader(addr, timeout_s=2.0)
    try:
        return await reader.read(T0)
    finally:
        await reader.close()
