"""The log center's metric families: each process exposes its role's families, labelled per
instance (counters) or per service (lags), as Prometheus text that promtool accepts, served
over HTTP on the address its settings give."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.logs.stats import AGENT, ARCHIVER, INDEXER, Loss, Report, Row
from dockyard.metrics.exposition import parse_addr, registry_of, serve
from dockyard.metrics.logcenter import LogCenterCollector

S = 1_000_000_000
NOW = 1_000 * S
ROWS = (
    Row("alpha", "web", "test", "web-1", read=10, sent=9, dropped=1, lost=1, lost_bytes=300,
        indexed=9, archived=9, newest_ns=NOW - 2 * S,
        losses=(Loss(NOW - 5 * S, "web-1.log.1 rotated away", 300),)),
    Row("alpha", "web", "test", "web-2", read=4, sent=4, indexed=4, archived=4, newest_ns=NOW),
)  # fmt: skip


def text_of(report: Report | None) -> str:
    return generate_latest(registry_of(LogCenterCollector(lambda: report))).decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("dockyard_")
    }


def labels(instance: str) -> tuple[tuple[str, str], ...]:
    return (("env", "test"), ("instance", instance), ("service", "web"), ("team", "alpha"))


def test_the_agent_exposes_lines_read_sent_dropped_and_losses_per_instance() -> None:
    found = samples(text_of(Report(AGENT, "h1", NOW, ROWS, stream_waiting=2)))
    assert found["dockyard_log_lines_read_total", labels("web-1")] == 10
    assert found["dockyard_log_lines_sent_total", labels("web-1")] == 9
    assert found["dockyard_log_lines_dropped_total", labels("web-1")] == 1
    assert found["dockyard_log_losses_total", labels("web-1")] == 1
    assert found["dockyard_log_lost_bytes_total", labels("web-1")] == 300
    assert found["dockyard_log_last_loss_timestamp_seconds", labels("web-1")] == 995
    assert ("dockyard_log_last_loss_timestamp_seconds", labels("web-2")) not in found
    assert found["dockyard_log_stream_waiting_sources", ()] == 2
    assert not any(name.startswith("dockyard_log_lines_indexed") for name, _ in found)


@pytest.mark.parametrize(
    ("role", "counter", "lag"),
    [
        (INDEXER, "dockyard_log_lines_indexed_total", "dockyard_log_index_lag_seconds"),
        (ARCHIVER, "dockyard_log_lines_archived_total", "dockyard_log_archive_lag_seconds"),
    ],
)
def test_consumers_expose_lines_written_and_their_lag_per_service(
    role: str, counter: str, lag: str
) -> None:
    found = samples(text_of(Report(role, "h1", NOW, ROWS)))
    assert found[counter, labels("web-1")] == 9 and found[counter, labels("web-2")] == 4
    assert found[lag, (("env", "test"), ("service", "web"), ("team", "alpha"))] == 0.0
    assert not any(name.startswith("dockyard_log_lines_read") for name, _ in found)


def test_nothing_of_the_log_center_before_the_first_report() -> None:
    assert samples(text_of(None)) == {}


@pytest.mark.parametrize("role", [AGENT, INDEXER, ARCHIVER])
def test_promtool_accepts_each_process_s_metrics(role: str) -> None:
    text = text_of(Report(role, "h1", NOW, ROWS, stream_waiting=1))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./run tests installs it (Debian's prometheus)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("127.0.0.1:9465", ("127.0.0.1", 9465)), ("[::1]:0", ("::1", 0))],
)
def test_an_address_is_host_and_port(text: str, parsed: tuple[str, int]) -> None:
    assert parse_addr(text) == parsed


async def test_metrics_are_served_over_http_until_cancelled() -> None:
    report = Report(INDEXER, "h1", NOW, ROWS)
    registry = registry_of(LogCenterCollector(lambda: report))
    bound: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    task = asyncio.create_task(
        serve("127.0.0.1:0", registry, bound=lambda h, p: bound.put_nowait((h, p)))
    )
    try:
        host, port = await asyncio.wait_for(bound.get(), timeout=10)
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"http://{host}:{port}/metrics")
        assert answer.status_code == 200
        assert 'dockyard_log_lines_indexed_total{env="test",instance="web-1"' in answer.text
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
