"""Log drains on a real nats-server with real receivers on loopback: a syslog listener over
TCP, one over TLS (a certificate made in the test), an HTTP NDJSON receiver and an OTLP/HTTP
JSON receiver. Every line reaches each drain once and in order per instance, and only its
team's; a receiver that is down, then up, gets everything after it comes back, while another
team's drain and the indexer keep flowing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.domain.drain import Drain, DrainKind, DrainSpec, DrainState
from dockyard.domain.environment import Environment
from dockyard.logs.drain import DrainSettings
from dockyard.logs.drainer import Drainer, DrainerSettings, cancelled
from dockyard.logs.index import open_engine
from dockyard.logs.indexer import Indexer, IndexerSettings
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import Batch, Line, Source
from tests.support.drain_receivers import (
    HttpReceiver,
    Receiver,
    SyslogReceiver,
    self_signed,
    stopped,
)
from tests.support.nats import NatsServer

pytestmark = pytest.mark.timeout(120)

WEB1 = Source("alpha", "web", Environment.TEST, "web1", host="h1")
WEB2 = Source("alpha", "web", Environment.TEST, "web2", host="h1")
DB = Source("alpha", "db", Environment.ONLINE, "db1", host="h2")
BRAVO = Source("bravo", "api", Environment.TEST, "api1", host="h3")
PER_SOURCE = 300
BATCH = 7


@pytest.fixture
async def stream(own_nats: NatsServer) -> AsyncIterator[JetStreamLogStream]:
    opened = JetStreamLogStream([own_nats.url], max_bytes=64 << 20, max_ack_pending=64)
    yield opened
    await opened.close()


class Book:
    """The drain list and the states written, as the database would hold them."""

    def __init__(self) -> None:
        self.drains: list[Drain] = []
        self.states: dict[int, DrainState] = {}
        self.created = datetime.now(UTC) - timedelta(seconds=1)

    def add(self, team: str, kind: DrainKind, url: str, **spec: object) -> Drain:
        drain_id = len(self.drains) + 1
        made = DrainSpec(team=team, name=f"d{drain_id}", kind=kind, url=url, **spec)  # type: ignore[arg-type]
        drain = Drain(id=drain_id, spec=made, created_at=self.created)
        self.drains.append(drain)
        return drain

    async def load(self) -> list[Drain]:
        return list(self.drains)

    async def save(self, drain_id: int, state: DrainState) -> None:
        self.states[drain_id] = state


async def _publish(stream: JetStreamLogStream, sources: tuple[Source, ...], first: int) -> int:
    """Lines first..first+PER_SOURCE-1 of each source, interleaved, in batches of BATCH."""
    for start in range(first, first + PER_SOURCE, BATCH):
        for source in sources:
            count = min(BATCH, first + PER_SOURCE - start)
            lines = tuple(
                Line(seq, time.time_ns(), "stdout", f"INFO {source.instance} line {seq}")
                for seq in range(start, start + count)
            )
            await stream.publish(Batch(source, lines))
    return first + PER_SOURCE


async def _until(done: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _running(drainer: Drainer) -> AsyncIterator[None]:
    task = asyncio.create_task(drainer.run())
    try:
        yield
    finally:
        await cancelled(task)


def _drainer(stream: JetStreamLogStream, book: Book) -> Drainer:
    settings = DrainerSettings(
        reread_s=0.2, drain=DrainSettings(fetch_wait_s=0.2, retry_first_s=0.1, retry_max_s=0.5)
    )
    return Drainer(stream, load=book.load, save=book.save, settings=settings)


def _syslog_seqs(receiver: SyslogReceiver) -> dict[str, list[int]]:
    """Line numbers received per instance (HOSTNAME), from the SD `seq` param."""
    out: dict[str, list[int]] = {}
    for message in receiver.messages:
        host = message.split(" ")[2]
        seq = int(message.split(' seq="')[1].split('"')[0])
        out.setdefault(host, []).append(seq)
    return out


def _ndjson_seqs(receiver: HttpReceiver) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for body in receiver.bodies:
        for record in map(json.loads, body.splitlines()):
            out.setdefault(record["instance"], []).append(record["seq"])
    return out


def _otlp_seqs(receiver: HttpReceiver) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for body in receiver.bodies:
        for resource in json.loads(body)["resourceLogs"]:
            attrs = {
                a["key"]: a["value"]["stringValue"] for a in resource["resource"]["attributes"]
            }
            for record in resource["scopeLogs"][0]["logRecords"]:
                seq = next(a for a in record["attributes"] if a["key"] == "dockyard.seq")
                out.setdefault(attrs["dockyard.instance"], []).append(int(seq["value"]["intValue"]))
    return out


def _every(instances: tuple[str, ...], last: int) -> dict[str, list[int]]:
    return {name: list(range(1, last)) for name in instances}


async def test_every_line_reaches_each_drain_once_in_order_and_only_its_teams(
    stream: JetStreamLogStream, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    tcp, tls = SyslogReceiver(), SyslogReceiver(server_tls)
    ndjson, otlp = HttpReceiver(), HttpReceiver()
    receivers: list[Receiver] = [tcp, tls, ndjson, otlp]
    for receiver in receivers:
        await receiver.start()
    book = Book()
    book.add("alpha", DrainKind.SYSLOG, f"syslog://127.0.0.1:{tcp.port}")
    book.add("alpha", DrainKind.SYSLOG, f"syslog+tls://127.0.0.1:{tls.port}", ca_file=str(cert))
    book.add(
        "alpha",
        DrainKind.HTTP,
        ndjson.url + "/ingest",
        services=("web",),
        headers=(("Authorization", "Bearer t0k"),),
    )
    book.add("alpha", DrainKind.OTLP, otlp.url, envs=(Environment.ONLINE,))
    try:
        async with _running(_drainer(stream, book)):
            last = await _publish(stream, (WEB1, WEB2, DB, BRAVO), 1)
            everything = _every(("web1", "web2", "db1"), last)
            await _until(lambda: _syslog_seqs(tcp) == everything, "the TCP syslog drain")
            await _until(lambda: _syslog_seqs(tls) == everything, "the TLS syslog drain")
            web = _every(("web1", "web2"), last)
            await _until(lambda: _ndjson_seqs(ndjson) == web, "the NDJSON drain")
            await _until(lambda: _otlp_seqs(otlp) == _every(("db1",), last), "the OTLP drain")
            await asyncio.sleep(0.5)  # nothing more, nothing twice, arrives later
            await _until(lambda: all(s.pending == 0 for s in book.states.values()), "state")
    finally:
        for receiver in receivers:
            await stopped(receiver)
    assert _syslog_seqs(tcp) == everything and _ndjson_seqs(ndjson) == web
    assert {h["authorization"] for h in ndjson.headers} == {"Bearer t0k"}
    assert set(ndjson.paths) == {"/ingest"} and set(otlp.paths) == {"/v1/logs"}
    assert book.states[1].delivered == 3 * PER_SOURCE
    assert book.states[3].delivered == 2 * PER_SOURCE
    assert all(s.lost == 0 and s.last_error is None for s in book.states.values())


async def test_a_receiver_down_gets_everything_once_back_while_others_flow(
    stream: JetStreamLogStream, tmp_path: Path
) -> None:
    alpha, bravo = HttpReceiver(), HttpReceiver()
    await bravo.start()  # alpha's receiver is down: nothing listens on its port
    book = Book()
    book.add("alpha", DrainKind.HTTP, alpha.url)
    book.add("bravo", DrainKind.OTLP, bravo.url)
    index = open_engine("fts5", tmp_path / "index")
    indexer = Indexer(stream, index, settings=IndexerSettings(commit_every_s=0.1))
    indexing = asyncio.create_task(indexer.run())
    try:
        async with _running(_drainer(stream, book)):
            last = await _publish(stream, (WEB1, BRAVO), 1)
            await _until(lambda: _otlp_seqs(bravo) == _every(("api1",), last), "bravo's drain")
            await _until(lambda: indexer.counters.lines == 2 * PER_SOURCE, "the indexer")
            await _until(lambda: _failing(book.states.get(1)), "alpha's lag and error")
            down = book.states[1]
            assert down.delivered == 0 and down.oldest_undelivered is not None
            assert down.last_error is not None and "cannot be reached" in down.last_error
            last = await _publish(stream, (WEB1, BRAVO), last)  # more while it is down
            await _until(lambda: _otlp_seqs(bravo) == _every(("api1",), last), "bravo again")
            await _until(lambda: indexer.counters.lines == 4 * PER_SOURCE, "the indexer again")
            await alpha.start()
            await _until(lambda: _ndjson_seqs(alpha) == _every(("web1",), last), "alpha's drain")
            await _until(lambda: book.states[1].pending == 0, "alpha's lag to clear")
            alpha.status = 503  # refusing is failing too: lines wait, then go once
            last = await _publish(stream, (WEB1,), last)
            await _until(lambda: "answered 503" in (book.states[1].last_error or ""), "a 503")
            alpha.status = None
            await _until(lambda: _ndjson_seqs(alpha) == _every(("web1",), last), "after a 503")
            await _until(lambda: book.states[1].delivered == 3 * PER_SOURCE, "alpha's state")
    finally:
        indexing.cancel()
        await asyncio.gather(indexing, return_exceptions=True)
        index.close()
        await stopped(alpha)
        await stopped(bravo)
    assert _ndjson_seqs(alpha) == _every(("web1",), last)  # nothing twice, even late
    assert book.states[1].oldest_undelivered is None


async def test_a_removed_drain_loses_its_consumer(stream: JetStreamLogStream) -> None:
    receiver = HttpReceiver()
    await receiver.start()
    book = Book()
    book.add("alpha", DrainKind.HTTP, receiver.url)
    drainer = _drainer(stream, book)
    try:
        async with _running(drainer):
            await _publish(stream, (WEB1,), 1)
            await _until(lambda: "drain_1" in _names(drainer), "the drain's consumer")
            await _until(lambda: bool(receiver.bodies), "a delivery")
            book.drains.clear()
            await _until(lambda: not drainer.workers, "the worker to stop")
        assert "drain_1" not in await stream.consumers()
    finally:
        await stopped(receiver)


def _failing(state: DrainState | None) -> bool:
    return state is not None and state.pending > 0 and state.oldest_undelivered is not None


def _names(drainer: Drainer) -> set[str]:
    return {w.consumer for w in drainer.workers.values()}


async def test_a_syslog_receiver_down_then_up_gets_every_line_after_it_is_back(
    stream: JetStreamLogStream,
) -> None:
    tcp = SyslogReceiver()
    await tcp.start()
    book = Book()
    book.add("alpha", DrainKind.SYSLOG, f"syslog://127.0.0.1:{tcp.port}")
    try:
        async with _running(_drainer(stream, book)):
            last = await _publish(stream, (WEB1,), 1)
            await _until(lambda: _syslog_seqs(tcp) == _every(("web1",), last), "before")
            await tcp.stop()  # its connection closes too: the drain sees the end, connects again
            last = await _publish(stream, (WEB1,), last)
            await _until(lambda: "cannot be reached" in (_error(book) or ""), "the refusal")
            await tcp.start()
            await _until(lambda: _syslog_seqs(tcp) == _every(("web1",), last), "after")
            await _until(lambda: book.states[1].delivered == 2 * PER_SOURCE, "the state")
    finally:
        await stopped(tcp)


def _error(book: Book) -> str | None:
    state = book.states.get(1)
    return None if state is None else state.last_error


async def test_lines_the_stream_dropped_before_a_down_drain_read_them_count_as_lost(
    own_nats: NatsServer,
) -> None:
    small = JetStreamLogStream([own_nats.url], max_bytes=48 << 10, max_ack_pending=64)
    receiver = HttpReceiver()
    book = Book()
    book.add("alpha", DrainKind.HTTP, receiver.url)
    total = 10 * PER_SOURCE
    try:
        async with _running(_drainer(small, book)):
            await _publish(small, (WEB1,), 1)
            await _until(lambda: _error(book) is not None, "the drain to find it down")
            for first in range(PER_SOURCE + 1, total + 1, PER_SOURCE):
                await _publish(small, (WEB1,), first)  # far more than the stream keeps
            await receiver.start()
            await _until(lambda: _ndjson_seqs(receiver).get("web1", [0])[-1] == total, "the end")
            await _until(lambda: book.states[1].pending == 0, "the state")
            seqs = _ndjson_seqs(receiver)["web1"]
            assert seqs == sorted(set(seqs))  # in order, none twice
            state = book.states[1]
            assert state.lost > 0 and state.delivered + state.lost == total
    finally:
        await stopped(receiver)
        await small.close()
