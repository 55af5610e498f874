"""A log center for the portal's Logs tests: a real fts5 index in a temp dir holding
payments/api's lines in test, a JetStream stream on a nats-server of the test's own (every
Dockyard stream takes the subjects `dockyard.logs.>`, so one server holds one such stream), and
the portal mounted with it the way the server mounts it."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from dockyard.domain.environment import Environment
from dockyard.logs.center import LogCenter
from dockyard.logs.cut import marker
from dockyard.logs.index import LogIndex, open_engine
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from dockyard.portal import PortalDeps, build_portal
from tests.e2e.portal.conftest import World
from tests.support.serving import serve

T = TypeVar("T")

A = Source("payments", "api", Environment.TEST, "7f3a9c01d2")
B = Source("payments", "api", Environment.TEST, "c95d02e6f1")
OTHER = Source("search", "indexer", Environment.TEST, "0dd0dd0dd0")
T0 = time.time_ns() - 120 * 10**9
SCRIPT = "<script>document.title = 'owned'</script> in a log line"
MAX_BYTES = 64 << 20
PUBLISH_TIMEOUT_S = 20


def lines(source: Source, first: int, n: int, *, t: int, word: str = "ok") -> Batch:
    return Batch(
        source,
        tuple(Line(s, t + s * 1000, "stdout", f"{word} line {s}") for s in range(first, first + n)),
    )


def seeded_index(root: Path) -> LogIndex:
    """150 lines of A, then B's: a stderr error, a cut line, a line with markup; one of another
    team's service that no view of payments may show."""
    index = open_engine("fts5", root)
    special = (
        Line(1, T0 + 10**9, "stderr", "ERROR boom: ledger unreachable"),
        Line(2, T0 + 10**9 + 1, "stdout", "x" * 40 + marker(70000)),
        Line(3, T0 + 10**9 + 2, "stdout", SCRIPT),
    )
    index.add([lines(A, 1, 150, t=T0), Batch(B, special), lines(OTHER, 1, 3, t=T0, word="secret")])
    index.commit()
    return index


def stream_name() -> str:
    return f"P{uuid.uuid4().hex[:8]}"


def log_center(index: LogIndex, nats_url: str | None, name: str) -> LogCenter:
    stream = JetStreamLogStream([nats_url], max_bytes=MAX_BYTES, name=name) if nats_url else None
    return LogCenter(index, stream=stream, archive=None, index_days=7)


@contextmanager
def portal_with_logs(world: World, center: LogCenter | None) -> Iterator[str]:
    """The portal with `center`, served; yields its URL (`http://127.0.0.1:PORT/ui`)."""
    deps = PortalDeps(db=world.db, clock=world.clock, notify=world.notified.append, logs=center)
    app = FastAPI()
    app.mount("/ui", build_portal(deps))
    with serve(app) as url:
        yield f"{url}/ui"


def publish(nats_url: str, name: str, batches: list[Batch]) -> None:
    """Publish on a connection of its own, from a thread of its own (Playwright's sync API
    keeps an event loop running in the test's thread)."""

    async def run() -> None:
        stream = JetStreamLogStream([nats_url], max_bytes=MAX_BYTES, name=name)
        try:
            for batch in batches:
                await stream.publish(batch)
        finally:
            await stream.close()

    failed: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # handed to the test's thread below
            failed.append(exc)

    worker = threading.Thread(target=in_thread, daemon=True)
    worker.start()
    worker.join(PUBLISH_TIMEOUT_S)
    assert not worker.is_alive(), "publishing took too long"
    if failed:
        raise failed[0]


@contextmanager
def logged_in(url: str, token: str) -> Iterator[httpx.Client]:
    """An HTTP client holding the portal's session cookie for `token`."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as client:
        answer = client.post("/login", data={"token": token, "next": "/ui/"})
        assert answer.status_code == 303, answer.text
        yield client


def run_apart(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(work)` in a thread of its own: once a browser test of this package ran, its
    sync Playwright (package-scoped) keeps an event loop running in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result(timeout=PUBLISH_TIMEOUT_S)
