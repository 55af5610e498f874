"""`indexer`, `archiver` and `drainer`: the log center's durable consumers of the log stream,
each a process of its own that `dockyard up` starts and supervises.

The indexer makes every line searchable within about a second (logs/indexer.py); the archiver
files compressed NDJSON per instance and hour at DOCKYARD_LOG_ARCHIVE_URL (logs/archiver.py);
the drainer sends each team's lines on to its drains (logs/drainer.py).
Either may be killed at any moment: what it had not committed is delivered to it again, and
what it already holds is not added twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli.context import session
from dockyard.cli.own_program import ready_file, say_ready
from dockyard.settings import Settings

if TYPE_CHECKING:  # imported when run: only these commands need the log center's stack
    from dockyard.domain.drain import Drain, DrainState
    from dockyard.logs.index_retention import OnDrop
    from dockyard.logs.indexer import Indexer
    from dockyard.logs.jetstream import JetStreamLogStream
    from dockyard.logs.retention import Notice
    from dockyard.store.db import Database

REPORT_EVERY_S = 60.0
"""How often each consumer logs what it has done (one INFO line)."""

log = logging.getLogger("dockyard.logs")


def indexer(ctx: typer.Context) -> None:
    """Index every log line from the stream, in the foreground (`dockyard up` starts it)."""
    _run(ctx, "indexer", _indexer_parts)


def archiver(ctx: typer.Context) -> None:
    """Archive every log line from the stream, in the foreground (`dockyard up` starts it)."""
    _run(ctx, "archiver", _archiver_parts)


def drainer(ctx: typer.Context) -> None:
    """Send every team's log lines on to its drains, in the foreground (`dockyard up` starts
    it)."""
    _run(ctx, "drainer", _drainer_parts)


Parts = dict[str, Coroutine[Any, Any, None]]


def _run(ctx: typer.Context, name: str, parts: Callable[[Settings], Parts]) -> None:
    settings = session(ctx).settings
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from dockyard.agent.main import PartEnded

    log.info("%s starting: stream %s", name, ", ".join(settings.logs.nats_urls))
    ready = ready_file(settings, name)
    try:
        asyncio.run(_serve(settings, ready, name, parts))
    except PartEnded as exc:  # logged with its traceback where it ended
        log.error("%s exiting with status 1: %s", name, exc)
        raise typer.Exit(1) from exc
    finally:
        ready.unlink(missing_ok=True)


async def _serve(
    settings: Settings, ready: Path, name: str, parts: Callable[[Settings], Parts]
) -> None:
    """Wait until the stream answers (saying so every little while), tell `dockyard up` by
    the ready file, then run the parts until stopped."""
    from dockyard.agent.main import run_parts
    from dockyard.domain.errors import Unavailable
    from dockyard.logs.jetstream import jetstream_ready

    url = settings.logs.nats_urls[0]
    for attempt in itertools.count():
        try:
            await jetstream_ready(url, timeout_s=2.0)
            break
        except Unavailable as exc:
            if attempt % 10 == 0:
                log.warning("waiting for the log stream: %s", exc.message)
            await asyncio.sleep(1.0)
    say_ready(ready)
    await run_parts(parts(settings), process=name)


def _stream(settings: Settings, **consumer: Any) -> JetStreamLogStream:
    from dockyard.logs.jetstream import JetStreamLogStream

    return JetStreamLogStream(
        settings.logs.nats_urls, max_bytes=settings.logs.stream_max_bytes, **consumer
    )


def _indexer_parts(settings: Settings) -> Parts:
    from dockyard.cli.commands.log_retention import report_file
    from dockyard.logs.index import open_engine
    from dockyard.logs.index_retention import IndexRetention, Rules
    from dockyard.logs.indexer import Indexer
    from dockyard.metrics.log_reporting import consumer_stats

    index = open_engine(settings.logs.index_engine, settings.logs.index_dir)
    worker = Indexer(_stream(settings), index)
    logs = settings.logs
    retention = IndexRetention(
        index,
        Rules(logs.index_retention, logs.index_caps, logs.retention_every_s),
        on_drop=_team_events(settings),
        report=report_file(settings),
    )
    log.info(
        "log index retention days=%s host_cap=%s team_cap=%s every_s=%g",
        logs.index_retention.describe(), logs.index_caps.host, logs.index_caps.team,
        logs.retention_every_s,
    )  # fmt: skip

    async def report() -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            c = worker.counters
            log.info(
                "indexed lines=%d batches=%d duplicates=%d undecodable=%d failures=%d lag_s=%.1f",
                c.lines, c.batches, c.duplicates, c.undecodable, c.failures,
                c.lag_s(time.time_ns()),
            )  # fmt: skip

    return {
        "indexer": _closing(worker.run(), worker),
        "retention": retention.run(),
        "report": report(),
        "stats": consumer_stats(
            "indexer",
            lambda: worker.counters.sources,
            host=settings.ipam.host,
            addr=settings.metrics.indexer_addr,
            nats_urls=settings.logs.nats_urls,
        ),
    }


def _team_events(settings: Settings) -> OnDrop:
    """Records what retention tells the teams as events on their services (the team sees
    them with its service's events; an admin sees every team's). The database is opened at
    the first drop, so an indexer runs, and indexes, while the database is away."""
    from dockyard.store.db import Database
    from dockyard.store.events import record_for_team

    opened: list[Database] = []

    def record(notices: Sequence[Notice], at_ns: int) -> None:
        if not opened:
            opened.append(Database.open(settings.database.url, upgrade=False))
        at = datetime.fromtimestamp(at_ns / 1e9, UTC)
        with opened[0].session() as session:
            for n in notices:
                record_for_team(
                    session, team=n.team, env=n.env, kind=n.kind, message=n.message, at=at
                )

    return record


async def _closing(work: Coroutine[Any, Any, None], worker: Indexer) -> None:
    try:
        await work
    finally:
        worker.index.close()
        await worker.stream.close()


def _archiver_parts(settings: Settings) -> Parts:
    from dockyard.logs.archive import Archive
    from dockyard.logs.archiver import Archiver, Limits
    from dockyard.metrics.log_reporting import consumer_stats

    # The archiver holds batches unacknowledged until their object is written (up to a flush
    # interval, 60 s, past an hour's end): its consumer must wait longer and allow more.
    limits = Limits(expire_every_s=settings.logs.retention_every_s)
    stream = _stream(
        settings,
        ack_wait_s=2 * limits.flush_interval_s,
        max_ack_pending=limits.max_held + limits.max_batches,
    )
    spool = settings.paths.state_dir / "logcenter" / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    worker = Archiver(
        stream,
        Archive(
            settings.logs.archive_url,
            storage_options=settings.logs.archive_storage_options,
            spool_dir=spool,
        ),
        limits=limits,
        spool_dir=spool,
        keep_days=settings.logs.archive_retention,
        cap_bytes=settings.logs.archive_cap_bytes,
    )

    async def archiving() -> None:
        """Runs until cancelled; then writes what it holds before the process ends, so a clean
        stop leaves nothing to be delivered again."""
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            stop.set()
            await task
            raise
        finally:
            await stream.close()

    async def report() -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            log.info(
                "archived lines=%d objects=%d repeated=%d held_batches=%d",
                worker.lines_archived, worker.objects_written, worker.lines_repeated, worker.held,
            )  # fmt: skip

    return {
        "archiver": archiving(),
        "report": report(),
        "stats": consumer_stats(
            "archiver",
            lambda: worker.sources,
            host=settings.ipam.host,
            addr=settings.metrics.archiver_addr,
            nats_urls=settings.logs.nats_urls,
        ),
    }


def _drainer_parts(settings: Settings) -> Parts:
    from dockyard.logs.drain import DrainSettings
    from dockyard.logs.drainer import Drainer
    from dockyard.store.db import Database

    # A drain holds what it fetched until its destination takes it (retrying up to 30 s apart):
    # its consumer may wait long and holds no more than one fetch.
    drain = DrainSettings()
    stream = _stream(settings, ack_wait_s=120.0, max_ack_pending=drain.max_batches)
    db = Database.open(settings.database.url, upgrade=False)  # the server migrates it
    worker = Drainer(stream, load=_drain_loader(db), save=_drain_saver(db))

    async def draining() -> None:
        try:
            await worker.run()
        finally:
            await stream.close()
            db.close()

    async def report() -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            for w in worker.workers.values():
                c = w.counters
                log.info(
                    "drain team=%s name=%s delivered=%d lost=%d failures=%d last_error=%s",
                    w.drain.spec.team, w.drain.spec.name, c.delivered, c.lost, c.failures,
                    c.last_error,
                )  # fmt: skip

    return {"drainer": draining(), "report": report()}


def _drain_loader(db: Database) -> Callable[[], Coroutine[Any, Any, list[Drain]]]:
    from dockyard.store.drains import all_drains

    def load() -> list[Drain]:
        with db.session() as session:
            return all_drains(session)

    async def loading() -> list[Drain]:
        return await asyncio.to_thread(load)

    return loading


def _drain_saver(db: Database) -> Callable[[int, DrainState], Coroutine[Any, Any, None]]:
    from dockyard.store.drains import write_state

    def save(drain_id: int, state: DrainState) -> None:
        with db.session() as session:
            write_state(session, drain_id, state)

    async def saving(drain_id: int, state: DrainState) -> None:
        await asyncio.to_thread(save, drain_id, state)

    return saving


def register(app: typer.Typer) -> None:
    app.command()(indexer)
    app.command()(archiver)
    app.command()(drainer)
