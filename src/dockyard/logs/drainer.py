"""The drainer: every team's drains delivered from one process (`dockyard drainer`), each by a
worker of its own (logs/drain.py) on a durable consumer of its own, so a failing or slow drain
lags only itself, never the index, the archive or another drain.

It reads the drain list every `reread_s` (a level, not events: drains added start, drains
removed stop and their consumers are deleted, also those removed while it was down) and then
records each drain's delivery state where the API reads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from dockyard.domain.drain import Drain, DrainState, consumer_name
from dockyard.domain.errors import DockyardError
from dockyard.logs.drain import DrainSettings, DrainWorker
from dockyard.logs.drains.destination import Destination, open_destination
from dockyard.logs.stream import LogStream

log = logging.getLogger(__name__)

CONSUMER_PREFIX = "drain_"


@dataclass(frozen=True)
class DrainerSettings:
    reread_s: float = 5.0
    """How soon a drain added or removed is started or stopped, and state is written."""
    drain: DrainSettings = field(default_factory=DrainSettings)


Load = Callable[[], Awaitable[list[Drain]]]
Save = Callable[[int, DrainState], Awaitable[None]]


class Drainer:
    """Keeps one worker running per drain that `load` returns; `save` records their state."""

    def __init__(
        self,
        stream: LogStream,
        *,
        load: Load,
        save: Save,
        settings: DrainerSettings | None = None,
        destinations: Callable[[Drain], Destination] = lambda d: open_destination(d.spec),
    ) -> None:
        self.stream = stream
        self.settings = settings or DrainerSettings()
        self.workers: dict[int, DrainWorker] = {}
        self._load, self._save, self._destinations = load, save, destinations
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._refused: dict[int, DrainState] = {}

    async def run(self) -> None:
        """Sync and report every `reread_s` until cancelled; then stop every worker."""
        try:
            while True:
                try:
                    await self.sync()
                    await self.report()
                except DockyardError as exc:  # the database or the stream: try again later
                    log.warning("drainer cannot read or record drains now: %s", exc.message)
                await asyncio.sleep(self.settings.reread_s)
        finally:
            tasks = list(self._tasks.values())
            self._tasks.clear()
            self.workers.clear()
            # Shielded: a second cancel of the drainer must not leave its workers running.
            await asyncio.shield(asyncio.gather(*(cancelled(t) for t in tasks)))

    async def sync(self) -> None:
        """Start a worker per new drain; stop those of drains gone and delete their consumers."""
        drains = {d.id: d for d in await self._load()}
        for drain_id, task in list(self._tasks.items()):
            if task.done():  # ended by a bug, not by a failing destination: started again
                log.error(
                    "drain worker ended consumer=%s", consumer_name(drain_id), exc_info=_why(task)
                )
                await self._stop(drain_id)
        for drain_id in set(self._tasks) - set(drains):
            await self._stop(drain_id)
        for drain_id in set(self._refused) - set(drains):
            del self._refused[drain_id]
        for drain_id, drain in drains.items():
            if drain_id not in self._tasks:
                self._start(drain)
        wanted = {consumer_name(i) for i in drains}
        for name in await self.stream.consumers():
            if name.startswith(CONSUMER_PREFIX) and name not in wanted:
                await self.stream.remove(name)
                log.info("drain consumer removed consumer=%s", name)

    async def report(self) -> None:
        """Record every running drain's state (its backlog asked of the stream)."""
        for drain_id, worker in list(self.workers.items()):
            pending = await self.stream.backlog(worker.consumer)
            await self._save(drain_id, worker.state(pending=pending))
        for drain_id, state in list(self._refused.items()):
            await self._save(drain_id, state)

    def _start(self, drain: Drain) -> None:
        try:
            destination = self._destinations(drain)
        except DockyardError as exc:  # a CA file that cannot be read: said, tried again later
            log.warning("drain %s/%s cannot start: %s", drain.spec.team, drain.spec.name, exc)
            now = datetime.now(UTC)
            self._refused[drain.id] = replace(
                drain.state, last_error=exc.message, last_error_at=now, updated_at=now
            )
            return
        self._refused.pop(drain.id, None)
        worker = DrainWorker(drain, self.stream, destination, settings=self.settings.drain)
        self.workers[drain.id] = worker
        self._tasks[drain.id] = asyncio.create_task(
            worker.run(), name=f"drain {drain.spec.team}/{drain.spec.name}"
        )
        log.info(
            "drain started team=%s name=%s kind=%s consumer=%s",
            drain.spec.team, drain.spec.name, drain.spec.kind, worker.consumer,
        )  # fmt: skip

    async def _stop(self, drain_id: int) -> None:
        """Cancel the worker (which closes its destination); its consumer keeps its place."""
        task = self._tasks.pop(drain_id)
        self.workers.pop(drain_id, None)
        await cancelled(task)


def _why(task: asyncio.Task[None]) -> BaseException | None:
    return None if task.cancelled() else task.exception()


CANCEL_TRIES = 10
CANCEL_WAIT_S = 1.0


async def cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it ended, cancelling again while it runs on: on Python
    3.11 `asyncio.wait_for` (inside nats-py's calls) loses a cancellation that comes just as
    what it waits for completes, and one lost cancel must not leave a worker running."""
    for _ in range(CANCEL_TRIES):
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
        if done:
            break
    else:
        log.error("a drain worker did not end when cancelled task=%s", task.get_name())
        return
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "drain worker ended with an error task=%s", task.get_name(), exc_info=task.exception()
        )
