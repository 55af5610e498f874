"""The build log shipper: the server's part that puts every build's log on the log stream, so
build logs are indexed, archived and searched like any instance's (logs/build_lines.py says
how a log becomes lines).

It runs beside the builder, never inside it: the image center keeps each build's log in the
database as it does without a log center, and the shipper reads it from there, from the place
its checkpoint names, and sends what is new. A build therefore never waits for the stream and
never fails because of it; while the stream is down the lines wait in the database, and are
sent once it is back, under the same numbers (consumers drop repeats). A checkpoint per build
(logs/checkpoint.py, one file per build under its own directory) is written only after the
stream stored the lines up to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dockyard.domain.errors import DockyardError
from dockyard.logs.build_lines import Shipped, build_source, to_batches
from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.record import Source
from dockyard.logs.stream import LogStream
from dockyard.store import build_logs
from dockyard.store.build_logs import BuildLogState
from dockyard.store.db import Database

log = logging.getLogger(__name__)

INTERVAL_S = 0.5
"""How often the database is asked for new log text: a line is on the stream within this."""
RESCAN_S = 60.0
"""How often every build of the keep window is looked at again (else only running builds and
those that ended lately): builds another server ran while this one was not shipping."""
RECENT_MARGIN_S = 60.0
"""Builds that ended this long before the last pass are looked at again: several servers'
clocks may disagree about `finished_at`."""
MAX_BACKOFF_S = 10.0


class BuildLogShipper:
    """Ships the logs of builds running or ended within `keep_s` from `db` to `stream`."""

    def __init__(
        self,
        db: Database,
        stream: LogStream,
        checkpoints: CheckpointStore,
        *,
        keep_s: float,
        max_line_bytes: int,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._stream = stream
        self._checkpoints = checkpoints
        self._keep_s = keep_s
        self._max_line_bytes = max_line_bytes
        self._interval_s = interval_s
        self._clock = clock
        self._shipped: dict[str, Shipped] = {}
        self._rescan_at = 0.0  # the first pass looks at every build of the window
        self._last_pass = 0.0
        self.lines_shipped = 0
        """Lines this shipper put on the stream (repeats after a crash counted again)."""
        self.problem: str | None = None
        """Why the last pass failed (the stream or the database is down), None once one passed."""

    async def run(self) -> None:
        """Ship until cancelled. A failed pass is retried with backoff, from the checkpoints."""
        backoff = self._interval_s
        while True:
            try:
                await self.ship_once()
            except Exception as exc:  # beside the controllers: a failure here must not end them
                message = exc.message if isinstance(exc, DockyardError) else repr(exc)
                if not isinstance(exc, DockyardError):
                    log.exception("build log pass failed")
                elif self.problem is None:
                    log.warning("build logs wait for the log stream: %s", message)
                self.problem = message
                self._rescan_at = 0.0  # anything may have been missed: look at every build
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            if self.problem is not None:
                log.info("build logs reach the log stream again")
            self.problem = None
            backoff = self._interval_s
            await asyncio.sleep(self._interval_s)

    async def close(self) -> None:
        """Close the stream this shipper was given."""
        await self._stream.close()

    async def ship_once(self) -> int:
        """Send what is new in every build's log; how many lines. Raises Unavailable (or
        another DockyardError) if the stream or the database failed: what was sent before is
        checkpointed, the rest is sent by a later pass."""
        now = self._clock()
        full = now >= self._rescan_at
        since = now - self._keep_s if full else self._last_pass - RECENT_MARGIN_S
        states = await asyncio.to_thread(self._recent, since)
        shipped = 0
        for state in states:
            shipped += await self._ship_build(state)
        if full:
            await asyncio.to_thread(self._forget, states)
            self._rescan_at = now + RESCAN_S
        self._last_pass = now
        return shipped

    def _recent(self, since: float) -> list[BuildLogState]:
        with self._db.session() as session:
            return build_logs.recent_logs(
                session, finished_since=datetime.fromtimestamp(since, UTC)
            )

    async def _ship_build(self, state: BuildLogState) -> int:
        source = build_source(
            team=state.team, service=state.service, number=state.number, build_id=state.build_id
        )
        shipped = self._place(source, state.build_id)
        before = shipped.seq
        while shipped.offset < state.size:
            text = await asyncio.to_thread(self._read, state.build_id, shipped.offset)
            if not text:
                break  # the log is shorter than its size says: looked at again next pass
            reached = shipped.offset + len(text) >= state.size
            # A line longer than one read is sent in pieces rather than waited for for ever.
            whole = (state.done and reached) or (
                len(text) >= build_logs.MAX_READ and "\n" not in text
            )
            batches, after = to_batches(
                source, text, shipped, done=whole, time_ns=_time_ns(state, self._clock()),
                max_line_bytes=self._max_line_bytes,
            )  # fmt: skip
            if after.offset == shipped.offset:
                break  # only the start of a line so far: sent once it is complete
            for batch in batches:
                await self._stream.publish(batch)
            self._save(source, state, after)
            shipped = after
        return shipped.seq - before

    def _place(self, source: Source, build_id: int) -> Shipped:
        """Where the build's log stands on the stream: in memory, else from its checkpoint."""
        found = self._shipped.get(source.key)
        if found is None:
            saved = self._checkpoints.load(source.key)
            found = (
                Shipped(saved.offset, saved.seq) if saved and saved.inode == build_id else Shipped()
            )
            self._shipped[source.key] = found
        return found

    def _save(self, source: Source, state: BuildLogState, shipped: Shipped) -> None:
        # `inode` holds the build's id: a checkpoint never applies to another build.
        checkpoint = Checkpoint(
            inode=state.build_id, offset=shipped.offset, seq=shipped.seq, size=state.size
        )
        self._checkpoints.save(source.key, checkpoint)
        self.lines_shipped += shipped.seq - self._shipped[source.key].seq
        self._shipped[source.key] = shipped

    def _read(self, build_id: int, offset: int) -> str:
        with self._db.session() as session:
            return build_logs.log_text(session, build_id, after=offset)

    def _forget(self, states: list[BuildLogState]) -> None:
        """Drop the checkpoints of builds that ended before the keep window (or are gone)."""
        keep = {
            build_source(team=s.team, service=s.service, number=s.number, build_id=s.build_id).key
            for s in states
        }
        stored = self._checkpoints.keys()
        for key in stored:
            if key not in keep:
                with contextlib.suppress(OSError):
                    self._checkpoints.delete(key)
                self._shipped.pop(key, None)


def _time_ns(state: BuildLogState, now: float) -> int:
    """A line's time: when it was read, but never after its build ended (lines sent after an
    outage of the stream are dated to the build, not to the outage's end)."""
    moment = now
    if state.finished_at is not None:
        finished = state.finished_at
        if finished.tzinfo is None:  # SQLite gives back naive UTC times
            finished = finished.replace(tzinfo=UTC)
        moment = min(moment, finished.timestamp())
    return int(moment * 1e9)
