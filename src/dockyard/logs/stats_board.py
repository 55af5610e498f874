"""The stats board: where every log center process (each host's agent, the indexer, the
archiver) leaves its latest per-service `Report` (logs/stats.py) and the server reads them.

It is a NATS JetStream key-value bucket, so it works across hosts with the stream the log
center already has: one key per service and process (`TEAM.SERVICE.ENV.ROLE.HOST`), replaced at
each report, kept in memory and expiring after STALE_S, so a process that is gone leaves no
figures behind. `MemoryStatsBoard` is the fake for tests. Errors of nats-py are translated here
into Unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from dockyard.domain.errors import Invalid, Unavailable
from dockyard.logs.stats import STALE_S, Report

log = logging.getLogger(__name__)

BUCKET = "dockyard_log_stats"
REPORT_EVERY_S = 5.0
"""How often each process reports: the portal's figures are at most this old."""
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 5.0
RETRY_S = 5.0
MAX_ENTRIES = 10_000
"""Reports read for one service at most: far more than its hosts times three roles."""
NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def token(text: str) -> str:
    """`text` as one token of a key (a host name's dots would split it)."""
    return _UNSAFE.sub("_", text) or "_"


def by_service(report: Report) -> dict[str, Report]:
    """`report` split into one report per service, keyed as the board stores them."""
    out: dict[str, Report] = {}
    for row in report.rows:
        key = ".".join(token(t) for t in (*row.service_key, report.role, report.host))
        one = out.get(key) or replace(report, rows=())
        out[key] = replace(one, rows=(*one.rows, row))
    return out


def service_prefix(team: str, service: str, env: str) -> str:
    return ".".join(token(t) for t in (team, service, env))


class StatsBoard(Protocol):
    async def put(self, report: Report) -> None:
        """Replace this process's figures (report.role, report.host) of each service in
        `report`; Unavailable if the board cannot be reached (the next report tries again)."""

    async def reports(self, team: str, service: str, env: str) -> list[Report]:
        """Every process's latest report of the service (not older than STALE_S); Unavailable
        if the board cannot be reached."""

    async def close(self) -> None: ...


class MemoryStatsBoard:
    """A StatsBoard in memory (no expiry: merge() leaves stale reports out anyway)."""

    def __init__(self) -> None:
        self.entries: dict[str, Report] = {}

    async def put(self, report: Report) -> None:
        self.entries.update(by_service(report))

    async def reports(self, team: str, service: str, env: str) -> list[Report]:
        prefix = service_prefix(team, service, env) + "."
        return [r for k, r in self.entries.items() if k.startswith(prefix)]

    async def close(self) -> None:
        self.entries.clear()


class JetStreamStatsBoard:
    """The board as a JetStream key-value bucket at `urls` (made on first use)."""

    def __init__(
        self, urls: Sequence[str], *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.urls = tuple(urls)
        self._client: Client | None = None
        self._kv: KeyValue | None = None
        self._connecting = asyncio.Lock()
        self._monotonic = monotonic
        self._down: tuple[float, Unavailable] | None = None

    async def put(self, report: Report) -> None:
        kv = await self._bucket()
        try:
            for key, one in by_service(report).items():
                await kv.put(key, one.encode())
        except NATS_ERRORS as exc:
            raise self._unavailable(exc) from exc

    async def reports(self, team: str, service: str, env: str) -> list[Report]:
        kv = await self._bucket()
        out = []
        try:
            # A watch of the service's keys hands over each one's latest value, then None: one
            # round trip, and a subject filter nats-server 2.9 understands (keys() filters need
            # 2.10).
            watcher = await kv.watch(service_prefix(team, service, env) + ".>", ignore_deletes=True)
            try:
                for _ in range(MAX_ENTRIES):
                    entry = await watcher.updates(timeout=READ_TIMEOUT_S)  # type: ignore[no-untyped-call]
                    if entry is None:
                        break
                    with contextlib.suppress(Invalid):
                        out.append(Report.decode(entry.value or b""))
            finally:
                await watcher.stop()  # type: ignore[no-untyped-call]
        except NATS_ERRORS as exc:
            raise self._unavailable(exc) from exc
        return out

    async def close(self) -> None:
        client, self._client, self._kv = self._client, None, None
        if client is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await client.close()

    async def _bucket(self) -> KeyValue:
        """The bucket, connecting first if needed. After a failed connection the same
        Unavailable is raised again for RETRY_S without trying: an API answer never waits on a
        connection that just failed."""
        async with self._connecting:
            if self._kv is not None and self._client is not None and self._client.is_connected:
                return self._kv
            if self._down is not None and self._monotonic() < self._down[0]:
                raise self._down[1]
            try:
                return await self._connect()
            except Unavailable as exc:
                self._down = (self._monotonic() + RETRY_S, exc)
                raise

    async def _connect(self) -> KeyValue:
        await self.close()
        try:
            # One attempt per server, and no reconnecting inside nats-py: a lost connection is
            # made again on the next call.
            self._client = await nats.connect(
                servers=list(self.urls), connect_timeout=CONNECT_TIMEOUT_S,
                max_reconnect_attempts=1, reconnect_time_wait=0.1, allow_reconnect=False,
                name="dockyard-log-stats", error_cb=_quiet,
            )  # fmt: skip
            js = self._client.jetstream()
            config = KeyValueConfig(
                bucket=BUCKET, history=1, ttl=STALE_S, storage=StorageType.MEMORY
            )
            self._kv = await js.create_key_value(config)
        except NATS_ERRORS as exc:
            await self.close()
            raise self._unavailable(exc) from exc
        self._down = None
        return self._kv

    def _unavailable(self, exc: BaseException) -> Unavailable:
        return Unavailable(
            f"the log stats board at {', '.join(self.urls)} cannot be reached now "
            f"({type(exc).__name__}: {exc}): check that nats-server runs (`dockyard status`)"
        )


class Reporter:
    """Makes this process's report every `every_s` (`make(now_ns)`), keeps it as `latest` (for
    the metrics collector) and puts it on `board` (None: metrics only). A board that cannot be
    reached is logged once per outage; the next report tries again."""

    def __init__(
        self,
        make: Callable[[int], Report],
        board: StatsBoard | None,
        *,
        every_s: float = REPORT_EVERY_S,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._make = make
        self._board = board
        self._every_s = every_s
        self._now_ns = now_ns
        self._failing = False
        self.latest: Report | None = None

    async def run(self) -> None:
        """Report until cancelled, then close the board."""
        try:
            while True:
                await self.once()
                await asyncio.sleep(self._every_s)
        finally:
            if self._board is not None:
                await self._board.close()

    async def once(self) -> None:
        self.latest = self._make(self._now_ns())
        if self._board is None:
            return
        try:
            await self._board.put(self.latest)
        except Unavailable as exc:
            if not self._failing:
                log.warning("log stats not published: %s", exc.message)
            self._failing = True
            return
        if self._failing:
            log.info("log stats published again")
        self._failing = False


async def _quiet(exc: Exception) -> None:
    log.debug("log stats board client error=%r", exc)  # the verbs say it, as Unavailable
