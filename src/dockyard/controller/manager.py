"""The controller process: workers draining the key queue, a resync loop, and orphan GC.

Event sources only enqueue keys (`notify` from the API, timers from passes, the resync loop);
workers do all the work. Because every pass re-reads everything, a dropped notification only
delays work until the next resync; nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dockyard.controller.config import ControllerSettings
from dockyard.controller.finalizer import AgentRuns, LogsFinalizer, LogsShipped
from dockyard.controller.networks import SegmentNetworks
from dockyard.controller.orphans import OrphanCollector
from dockyard.controller.queue import WorkQueue
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError, Unavailable
from dockyard.domain.status import EnvKey
from dockyard.runtimes.base import Runtime
from dockyard.store import status as store
from dockyard.store.db import Database

log = logging.getLogger(__name__)


class Manager:
    def __init__(
        self,
        db: Database,
        runtime: Runtime,
        *,
        clock: Clock,
        settings: ControllerSettings,
        networks: SegmentNetworks | None = None,
        logs_shipped: LogsShipped | None = None,
        agent_runs: AgentRuns | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._reconciler = Reconciler(
            db, runtime, clock=clock, settings=settings, networks=networks,
            logs_shipped=logs_shipped, agent_runs=agent_runs,
        )  # fmt: skip
        finalizer = LogsFinalizer(
            logs_shipped,
            wait_s=settings.logs_shipped_wait_s,
            poll_s=settings.logs_shipped_poll_s,
            agent_runs=agent_runs,
        )
        self._orphans = OrphanCollector(
            db, runtime, clock=clock, grace_s=settings.orphan_grace_s, finalizer=finalizer
        )
        self._queue: WorkQueue[EnvKey] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.passes = 0
        self.healthy = False

    def notify(self, key: EnvKey) -> None:
        """Ask for a pass over `key` soon. Safe to call from any thread, before or after start."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            return  # the first resync will see it
        loop.call_soon_threadsafe(queue.add, key)

    async def run(self) -> None:
        """Run until cancelled."""
        self._loop = asyncio.get_running_loop()
        queue: WorkQueue[EnvKey] = WorkQueue()
        self._queue = queue
        tasks = [asyncio.create_task(self._worker(queue)) for _ in range(self._settings.workers)]
        tasks.append(asyncio.create_task(self._resync(queue)))
        tasks.append(asyncio.create_task(self._collect_orphans()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            queue.close()
            self._queue = None

    async def _resync(self, queue: WorkQueue[EnvKey]) -> None:
        while True:
            try:
                for key in await asyncio.to_thread(self._keys):
                    queue.add(key)
                self.healthy = True
            except DockyardError as exc:
                self.healthy = False
                log.warning("resync failed: %s", exc.message)
            await asyncio.sleep(self._settings.resync_s)

    def _keys(self) -> list[EnvKey]:
        with self._db.session() as session:
            return store.keys(session)

    async def _worker(self, queue: WorkQueue[EnvKey]) -> None:
        while True:
            key = await queue.get()
            try:
                again = await self._reconciler.reconcile(key)
            except Unavailable as exc:
                delay = queue.retry(key)
                log.warning("key=%s unavailable: %s; retry in %.1fs", key, exc.message, delay)
            except Exception:
                delay = queue.retry(key)
                log.exception("key=%s pass failed; retry in %.1fs", key, delay)
            else:
                queue.forget(key)
                if again is not None:
                    queue.add_after(key, again)
            finally:
                self.passes += 1
                queue.done(key)

    async def _collect_orphans(self) -> None:
        interval = max(1.0, min(self._settings.orphan_grace_s / 3, self._settings.resync_s))
        while True:
            await asyncio.sleep(interval)
            try:
                await self._orphans.collect()
            except DockyardError as exc:
                log.warning("orphan sweep failed: %s", exc.message)
