"""One drain's delivery: its own durable consumer of the log stream (filtered to its team's
subjects, from the drain's creation on) feeding its destination (logs/drains/).

Order of work, which keeps lines in order per instance and loses none: fetch a few batches,
send them, and acknowledge them only once the destination accepted them; while it does not,
send the same batches again with a growing pause and fetch nothing more, so the stream is the
buffer and a failing drain lags only itself. Lines at or below the highest number already
delivered for their source are not sent again (a batch delivered again after an ack wait); a
jump in a source's numbers is counted as lost (the stream dropped those batches at its size
limit before this drain read them). The marks live in memory: after a restart of the drainer,
what was sent but not yet acknowledged may be sent once more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dockyard.domain.drain import Drain, DrainState, consumer_name
from dockyard.domain.errors import DockyardError, Invalid
from dockyard.logs.drains.destination import Destination
from dockyard.logs.record import Batch
from dockyard.logs.stream import Delivery, LogStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrainSettings:
    max_batches: int = 64
    """Batches fetched, and sent, at once."""
    fetch_wait_s: float = 1.0
    """Longest wait for a first batch; the loop then looks again."""
    retry_first_s: float = 0.5
    retry_max_s: float = 30.0
    """The pause between two tries of the same batches doubles from the first to the max."""


@dataclass
class DrainCounters:
    delivered: int = 0
    lost: int = 0
    repeated: int = 0
    """Lines not sent again: at or below their source's delivered mark."""
    undecodable: int = 0
    failures: int = 0
    last_success_ns: int | None = None
    last_error: str | None = None
    last_error_ns: int | None = None
    waiting_since_ns: int | None = None
    """Write time of the oldest line held for the destination; None when none waits."""


class DrainWorker:
    """Delivers `drain`'s lines from `stream` to `destination` until cancelled (`run`)."""

    def __init__(
        self,
        drain: Drain,
        stream: LogStream,
        destination: Destination,
        *,
        settings: DrainSettings | None = None,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.drain = drain
        self.consumer = consumer_name(drain.id)
        self.stream = stream
        self.destination = destination
        self.settings = settings or DrainSettings()
        self.counters = DrainCounters(delivered=drain.state.delivered, lost=drain.state.lost)
        self._clock = clock
        self._sleep = sleep
        self._marks: dict[str, int] = {}
        self._start_ns = int(drain.created_at.timestamp() * 1e9)

    async def run(self) -> None:
        """Deliver until cancelled; a stream that fails is retried after a pause, like a
        destination that fails (both recorded as the drain's last error)."""
        try:
            while True:
                try:
                    await self.step()
                except DockyardError as exc:
                    self._failed(exc)
                    await self._sleep(self.settings.retry_max_s / 10)
        finally:
            await self.destination.close()

    async def step(self) -> int:
        """One fetch, delivered (retrying until the destination takes it) and acknowledged;
        returns the lines delivered."""
        spec = self.drain.spec
        deliveries = await self.stream.fetch(
            self.consumer,
            max_batches=self.settings.max_batches,
            timeout_s=self.settings.fetch_wait_s,
            subject=spec.subject,
            start_ns=self._start_ns,
        )
        batches = await self._decoded(deliveries)
        sending = self._new_lines(batches)
        if sending:
            await self._deliver(sending)
        for delivery in deliveries:
            await delivery.ack()
        return sum(len(b.lines) for b in sending)

    def state(self, *, pending: int) -> DrainState:
        """The delivery state to record, with `pending` batches in the stream for it."""
        c = self.counters
        return DrainState(
            delivered=c.delivered,
            lost=c.lost,
            pending=pending,
            oldest_undelivered=_time(c.waiting_since_ns),
            last_success_at=_time(c.last_success_ns),
            last_error=c.last_error,
            last_error_at=_time(c.last_error_ns),
            updated_at=_time(self._clock()),
        )

    async def _decoded(self, deliveries: Sequence[Delivery]) -> list[Batch]:
        """The batches this drain takes; undecodable messages are terminated."""
        spec, out = self.drain.spec, []
        for delivery in deliveries:
            try:
                batch = delivery.batch
            except Invalid as exc:
                self.counters.undecodable += 1
                log.warning("drain %s terminated an undecodable batch: %s", self.consumer, exc)
                await delivery.term()
                continue
            s = batch.source
            if spec.takes(team=s.team, service=s.service, env=str(s.env)):
                out.append(batch)
        return out

    def _new_lines(self, batches: list[Batch]) -> list[Batch]:
        """Each batch cut to the lines past its source's mark; marks are moved only after the
        destination took them (`_deliver`), lost lines are counted here."""
        marks, out = dict(self._marks), []
        for batch in batches:
            key = batch.source.key
            mark = marks.get(key)
            lines = tuple(ln for ln in batch.lines if mark is None or ln.seq > mark)
            self.counters.repeated += len(batch.lines) - len(lines)
            if not lines:
                continue
            if mark is not None and lines[0].seq > mark + 1:
                self.counters.lost += lines[0].seq - mark - 1
                log.warning(
                    "drain %s: lines %d-%d of %s left the stream before delivery",
                    self.consumer, mark + 1, lines[0].seq - 1, key,
                )  # fmt: skip
            marks[key] = lines[-1].seq
            out.append(Batch(batch.source, lines))
        return out

    async def _deliver(self, batches: list[Batch]) -> None:
        """Send until the destination takes them, pausing longer after each failure."""
        self.counters.waiting_since_ns = min(b.lines[0].time_ns for b in batches)
        pause = self.settings.retry_first_s
        while True:
            try:
                await self.destination.send(batches)
                break
            except DockyardError as exc:
                self._failed(exc)
                await self._sleep(pause)
                pause = min(pause * 2, self.settings.retry_max_s)
        for batch in batches:
            self._marks[batch.source.key] = batch.last_seq
            self.counters.delivered += len(batch.lines)
        self.counters.waiting_since_ns = None
        self.counters.last_success_ns = self._clock()

    def _failed(self, exc: DockyardError) -> None:
        c = self.counters
        c.failures += 1
        c.last_error, c.last_error_ns = exc.message, self._clock()
        log.warning("drain %s cannot deliver now: %s", self.consumer, exc.message)


def _time(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC)
