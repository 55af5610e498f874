"""The log center's metrics, declared once: per (team, service, env, instance) lines read, sent,
dropped, lost (events and bytes, and when the last loss was found) by the agent, indexed by the
indexer and archived by the archiver, and per service how far each consumer lags behind.

A process does not count twice: its counters (logs/counters.py, the indexer's and archiver's
tallies) become a `Report` every few seconds (logs/stats.py), and `LogCenterCollector` renders
the latest report at each scrape, only the families of the process's role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dockyard.logs.stats import AGENT, ARCHIVER, INDEXER, Report, Row

INSTANCE_LABELS = ("team", "service", "env", "instance")
SERVICE_LABELS = ("team", "service", "env")


@dataclass(frozen=True)
class Family:
    """One per-instance counter: its name (without `_total`), help, role and value of a row."""

    name: str
    help: str
    role: str
    value: Callable[[Row], float]


COUNTERS = (
    Family("dockyard_log_lines_read", "Lines the agent read from an instance's logs.", AGENT,
           lambda r: r.read),
    Family("dockyard_log_lines_sent", "Lines the agent handed to the log stream.", AGENT,
           lambda r: r.sent),
    Family("dockyard_log_lines_dropped", "Lines left out by the service's rate budget.", AGENT,
           lambda r: r.dropped),
    Family("dockyard_log_losses", "Times lines were lost before they were read (e.g. a file "
           "rotated away unread); see the agent's log for what.", AGENT, lambda r: r.lost),
    Family("dockyard_log_lost_bytes", "Bytes known to be lost before they were read.", AGENT,
           lambda r: r.lost_bytes),
    Family("dockyard_log_lines_indexed", "Lines written into the search index.", INDEXER,
           lambda r: r.indexed),
    Family("dockyard_log_lines_archived", "Lines written into the archive.", ARCHIVER,
           lambda r: r.archived),
)  # fmt: skip
LAST_LOSS = "dockyard_log_last_loss_timestamp_seconds"
LAG = {
    INDEXER: "dockyard_log_index_lag_seconds",
    ARCHIVER: "dockyard_log_archive_lag_seconds",
}
STREAM_WAITING = "dockyard_log_stream_waiting_sources"


def families(report: Report) -> list[Metric]:
    """The Prometheus families of `report`, for its role only (an agent has no index lag)."""
    out: list[Metric] = []
    for family in COUNTERS:
        if family.role == report.role:
            counter = CounterMetricFamily(family.name, family.help, labels=INSTANCE_LABELS)
            for row in report.rows:
                counter.add_metric(_labels(row), family.value(row))
            out.append(counter)
    if report.role == AGENT:
        out.extend(_agent_gauges(report))
    if report.role in LAG:
        out.append(_lag(report))
    return out


def _labels(row: Row) -> list[str]:
    return [row.team, row.service, row.env, row.instance]


def _agent_gauges(report: Report) -> list[Metric]:
    last = GaugeMetricFamily(
        LAST_LOSS, "When the agent last found lines of an instance lost (Unix time).",
        labels=INSTANCE_LABELS,
    )  # fmt: skip
    for row in report.rows:
        if row.losses:
            last.add_metric(_labels(row), max(loss.time_ns for loss in row.losses) / 1e9)
    waiting = GaugeMetricFamily(
        STREAM_WAITING,
        "Sources whose lines wait now for the log stream to take them (backpressure: the "
        "agent reads no further from them).",
        value=report.stream_waiting,
    )
    return [last, waiting]


def _lag(report: Report) -> Metric:
    lag = GaugeMetricFamily(
        LAG[report.role],
        f"Seconds from the newest line the {report.role} wrote for a service to its report.",
        labels=SERVICE_LABELS,
    )
    services = sorted({row.service_key for row in report.rows})
    for key in services:
        seconds = report.lag_s(*key)
        if seconds is not None:
            lag.add_metric(list(key), seconds)
    return lag


class LogCenterCollector(Collector):
    """Renders `latest()` (the process's newest report; None before the first) at each scrape."""

    def __init__(self, latest: Callable[[], Report | None]) -> None:
        self._latest = latest

    def collect(self) -> Iterator[Metric]:
        report = self._latest()
        if report is not None:
            yield from families(report)
