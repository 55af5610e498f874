"""A log center process's reporting part: every few seconds its counters become a report
(logs/stats.py) that goes on the stats board for the server and is served as Prometheus text
for scrapers, both until the process stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from prometheus_client.registry import Collector

from dockyard.logs.stats import Report, Tally, consumer_report
from dockyard.logs.stats_board import REPORT_EVERY_S, JetStreamStatsBoard, Reporter
from dockyard.metrics.exposition import registry_of, serve
from dockyard.metrics.logcenter import LogCenterCollector


async def report_log_stats(
    make: Callable[[int], Report],
    *,
    addr: str,
    nats_urls: Sequence[str],
    every_s: float = REPORT_EVERY_S,
    collectors: Sequence[Collector] = (),
) -> None:
    """Report `make(now_ns)` every `every_s` to the board at `nats_urls` (none: metrics only)
    and serve the latest report's metrics on `addr` ('' for none), with those of `collectors`
    (the agent's host and instance figures), until cancelled. Neither an unreachable board nor
    a taken port ends it: both are logged and tried again."""
    board = JetStreamStatsBoard(nats_urls) if nats_urls else None
    reporter = Reporter(make, board, every_s=every_s)
    registry = registry_of(LogCenterCollector(lambda: reporter.latest), *collectors)
    async with asyncio.TaskGroup() as group:
        group.create_task(reporter.run())
        group.create_task(serve(addr, registry))


def consumer_stats(
    role: str,
    tallies: Callable[[], Mapping[str, Tally]],
    *,
    host: str,
    addr: str,
    nats_urls: Sequence[str],
) -> Coroutine[Any, Any, None]:
    """The indexer's or the archiver's reporting part: `tallies()` (its lines written per
    source) as its report."""

    def make(now_ns: int) -> Report:
        return consumer_report(role, tallies(), host=host, now_ns=now_ns)

    return report_log_stats(make, addr=addr, nats_urls=nats_urls)
