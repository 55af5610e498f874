"""The real `dockyard indexer` and `dockyard archiver` processes on a real nats-server: each
serves its log center metrics as Prometheus text on its metrics address (promtool accepts what
it serves), and the indexer's lines indexed per instance reach the stats board the server
reads."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.domain.environment import Environment
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.stats import INDEXER, merge
from dockyard.logs.stats_board import JetStreamStatsBoard
from tests.support.child import ChildProcess
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.timeout(120)

STREAM_BYTES = 64 << 20
WEB = Source("shop", "web", Environment.TEST, "web-1", "console", "host-1")
LABELS = {"team": "shop", "service": "web", "env": "test", "instance": "web-1"}


async def publish(url: str, batches: list[Batch]) -> None:
    stream = JetStreamLogStream((url,), max_bytes=STREAM_BYTES)
    try:
        for batch in batches:
            await stream.publish(batch)
    finally:
        await stream.close()


def batch(first: int, n: int) -> Batch:
    t = time.time_ns() - 10**9
    return Batch(WEB, tuple(Line(s, t + s, "stdout", f"line {s}") for s in range(first, first + n)))


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


def promtool_accepts(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./run tests installs it (Debian's prometheus)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr


def test_the_consumers_serve_their_metrics_and_report_to_the_board(
    own_nats: NatsServer, tmp_path: Path
) -> None:
    asyncio.run(publish(own_nats.url, [batch(1, 100), batch(101, 50)]))
    ports = {"indexer": free_port(), "archiver": free_port()}
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_DATABASE_URL": f"sqlite:///{tmp_path}/dockyard.db",
        "DOCKYARD_NATS_URLS": own_nats.url,
        "DOCKYARD_LOG_INDEX_DIR": str(tmp_path / "index"),
        "DOCKYARD_LOG_ARCHIVE_URL": str(tmp_path / "archive"),
        "DOCKYARD_LOG_STREAM_MAX_BYTES": str(STREAM_BYTES),
        "DOCKYARD_INDEXER_METRICS_ADDR": f"127.0.0.1:{ports['indexer']}",
        "DOCKYARD_ARCHIVER_METRICS_ADDR": f"127.0.0.1:{ports['archiver']}",
    }
    children = [
        ChildProcess(
            [sys.executable, "-m", "dockyard.cli", name], log_file=tmp_path / f"{name}.log"
        )
        for name in ports
    ]
    for child in children:
        child.start(env=env)
    try:
        indexed = "dockyard_log_lines_indexed_total"
        wait_for(lambda: sample(scrape(ports["indexer"]), indexed, LABELS) == 150, "150 indexed")
        text = scrape(ports["indexer"])
        promtool_accepts(text)
        lag = sample(
            text,
            "dockyard_log_index_lag_seconds",
            {k: LABELS[k] for k in LABELS if k != "instance"},
        )
        assert lag is not None and lag < 60

        archived = scrape(ports["archiver"])  # the hour's lines are written when it ends
        assert "# TYPE dockyard_log_lines_archived_total counter" in archived
        promtool_accepts(archived)

        async def reported() -> int:
            board = JetStreamStatsBoard([own_nats.url])
            try:
                found = await board.reports("shop", "web", "test")
            finally:
                await board.close()
            stats = merge(found, team="shop", service="web", env="test", now_ns=time.time_ns())
            return stats.total.indexed if INDEXER in {r.role for r in found} else -1

        # The same report is served and then put on the board: it may land a moment later.
        wait_for(lambda: asyncio.run(reported()) == 150, "150 indexed on the board", 15)
    finally:
        for child in children:
            child.stop()
        tails = "\n".join(child.log_tail() for child in children)
    assert "Traceback" not in tails, tails
