"""Index retention in the real `dockyard indexer` process on a real nats-server: a team over
its cap loses its lines of its oldest days (never today's), the drop is an event on the team's
services in the platform database, another team keeps its lines in the same partitions, and
collection goes on."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.logs.index import Filters, open_engine
from dockyard.logs.index.partitions import NS_PER_DAY, day_of
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.query import parse
from dockyard.logs.record import Batch, Line, Source
from dockyard.store.db import Database
from dockyard.store.models import EventRow
from dockyard.store.services import create_service
from dockyard.store.teams import create_team
from tests.support.child import ChildProcess
from tests.support.nats import NatsServer

pytestmark = pytest.mark.timeout(400)

STREAM_BYTES = 256 << 20
ADMIN = Principal(token_id="setup", name="admin", team=None)
WEB = Source("shop", "web", Environment.TEST, "web-1", "console", "host-1")
BANK = Source("bank", "web", Environment.TEST, "bank-1", "console", "host-1")


def lines(source: Source, first: int, n: int, time_ns: int, word: str) -> Batch:
    return Batch(
        source,
        tuple(Line(first + i, time_ns + i, "stdout", f"{word} {i} " + "x" * 100) for i in range(n)),
    )


async def publish(url: str, batches: list[Batch]) -> None:
    stream = JetStreamLogStream((url,), max_bytes=STREAM_BYTES)
    try:
        for batch in batches:
            await stream.publish(batch)
    finally:
        await stream.close()


def wait_for(
    condition: Callable[[], bool], what: str, child: ChildProcess, timeout_s: float = 120.0
) -> None:
    """Generous: a loaded test machine starts the indexer slowly; the log says what it did."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{child.log_tail()}"
        time.sleep(0.1)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{tmp_path}/dockyard.db"
    db = Database.open(url)
    now = datetime.now(UTC)
    with db.session() as session:
        for team in ("shop", "bank"):
            create_team(session, ADMIN, name=team, description="", now=now)
            spec = ServiceSpec(image=f"{team}/web:1")
            create_service(session, ADMIN, team=team, name="web", spec=spec, now=now)
    yield url, db
    db.close()


def test_a_team_over_its_cap_loses_its_oldest_days_is_told_and_collection_goes_on(
    own_nats: NatsServer, tmp_path: Path, database: tuple[str, Database]
) -> None:
    url, db = database
    index_dir = tmp_path / "index"
    today = time.time_ns() - 60 * 10**9
    old = [today - 3 * NS_PER_DAY, today - 2 * NS_PER_DAY]
    asyncio.run(
        publish(
            own_nats.url,
            [
                lines(WEB, 1, 200, old[0], "ancient"),
                lines(WEB, 201, 200, old[1], "old"),
                lines(WEB, 401, 200, today, "fresh"),
                lines(BANK, 1, 200, old[0], "bank"),
            ],
        )
    )
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_DATABASE_URL": url,
        "DOCKYARD_NATS_URLS": own_nats.url,
        "DOCKYARD_LOG_INDEX_DIR": str(index_dir),
        "DOCKYARD_LOG_INDEX_ENGINE": "tantivy",
        "DOCKYARD_LOG_STREAM_MAX_BYTES": str(STREAM_BYTES),
        "DOCKYARD_LOG_TEAM_CAP_BYTES": "shop=1K",
        "DOCKYARD_LOG_RETENTION_EVERY_S": "1",
        "DOCKYARD_INDEXER_METRICS_ADDR": "",
    }
    log_file = tmp_path / "indexer.log"
    child = ChildProcess([sys.executable, "-m", "dockyard.cli", "indexer"], log_file=log_file)
    child.start(env=env)
    index = open_engine("tantivy", index_dir)
    try:

        def shop_days() -> set[str]:
            return {p.day for p in index.partitions() if "shop" in p.teams}

        def events() -> list[EventRow]:
            with db.session() as session:
                return list(session.scalars(select(EventRow).order_by(EventRow.id)))

        wait_for(lambda: any(e.kind == "logs_dropped_by_cap" for e in events()), "event", child)
        today_only = {day_of(today)}  # not just one day: batches may come in more than one fetch
        wait_for(lambda: shop_days() == today_only, "shop's old days dropped", child)
        dropped = [e for e in events() if e.kind == "logs_dropped_by_cap"]
        assert {e.env for e in dropped} == {"test"}
        assert "team shop reached its index cap of 1.0 KiB" in dropped[0].message
        assert "log index dropped partition=" in log_file.read_text()
        assert "reason=team_cap" in log_file.read_text()
        count = index.count
        bank = Filters(team="bank")
        wait_for(lambda: count(bank, parse("")) == 200, "bank's lines", child)  # kept
        assert count(Filters(team="shop"), parse("fresh")) == 200  # today's stay
        assert count(Filters(team="shop"), parse("ancient")) == 0
        assert count(Filters(team="shop"), parse("old")) == 0

        asyncio.run(publish(own_nats.url, [lines(WEB, 601, 50, time.time_ns(), "later")]))
        wait_for(lambda: count(Filters(team="shop"), parse("later")) == 50, "new lines", child)
        assert child.running(), child.log_tail()
    finally:
        index.close()
        child.stop()
