"""The builder: runs queued builds in the background, never inside an HTTP request.

The API only records a build request and calls `wake()`. The builder claims queued builds (one
claimer wins each, so several servers may run builders on one database), runs each in a worker
thread, renews their leases while they run, and fails builds whose lease lapsed: a build left
`running` by a server that died is marked failed as "interrupted" (not re-run: it may have died
because of the build itself, and a re-run could take the next server down too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.domain.status import EnvKey
from dockyard.images.build_events import BuildEvents
from dockyard.images.build_job import Tools, run_build
from dockyard.images.config import ImageSettings
from dockyard.images.engine import Engine
from dockyard.images.registry import RegistryClient
from dockyard.store import builds
from dockyard.store.db import Database

log = logging.getLogger(__name__)


class Builder:
    """Runs the builds of one database on one engine, `concurrency` at a time."""

    def __init__(
        self,
        db: Database,
        *,
        settings: ImageSettings,
        docker_host: str,
        clock: Clock,
        notify: Callable[[EnvKey], None],
        registry: RegistryClient | None = None,
        events: BuildEvents | None = None,
    ) -> None:
        self._settings = settings
        self.events = events or BuildEvents()
        """Followers of build logs in this process wait on these (api.imaging)."""
        self._tools = Tools(
            db=db,
            engine=Engine(docker_host, timeout_s=settings.builds.timeout_s),
            registry=registry or RegistryClient(settings.registry.url),
            settings=settings,
            clock=clock,
            notify=notify,
            events=self.events,
        )
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        self._running: set[int] = set()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.healthy = False

    def wake(self) -> None:
        """Look for queued builds now. Safe from any thread, before or after `run` starts."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def run(self) -> None:
        """Run until cancelled. Builds in flight at cancellation are left `running`; their lease
        lapses and the next builder fails them as interrupted."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        slots = asyncio.Semaphore(self._settings.builds.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        lease = asyncio.create_task(self._keep_leases())
        try:
            while True:
                await slots.acquire()
                job = await self._claim()
                if job is None:
                    slots.release()
                    await self._sleep()
                    continue
                task = asyncio.create_task(self._run(job, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            lease.cancel()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(lease, *tasks, return_exceptions=True)

    async def _claim(self) -> builds.Claimed | None:
        def claim() -> builds.Claimed | None:
            with self._tools.db.session() as session:
                return builds.claim_next(session, worker=self._worker, now=self._tools.clock())

        try:
            job = await asyncio.to_thread(claim)
        except DockyardError as exc:
            self.healthy = False
            log.warning("cannot claim builds: %s", exc.message)
            return None
        self.healthy = True
        return job

    async def _sleep(self) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._settings.builds.poll_s)
        self._wake.clear()

    async def _run(self, job: builds.Claimed, slots: asyncio.Semaphore) -> None:
        self._running.add(job.id)
        log.info("build started team=%s service=%s build=%s", job.team, job.service, job.number)
        try:
            await asyncio.to_thread(run_build, self._tools, job)
        finally:
            self._running.discard(job.id)
            slots.release()
            self.wake()  # a slot is free: look for the next one now

    async def _keep_leases(self) -> None:
        """Renew our builds' leases; fail others' builds whose lease lapsed."""
        interval = max(0.05, self._settings.builds.lease_s / 3)
        while True:
            try:
                await asyncio.to_thread(self._lease_pass)
            except DockyardError as exc:
                log.warning("build lease pass failed: %s", exc.message)
            await asyncio.sleep(interval)

    def _lease_pass(self) -> None:
        now = self._tools.clock()
        with self._tools.db.session() as session:
            builds.renew(session, sorted(self._running), now=now)
        with self._tools.db.session() as session:
            failed = builds.fail_interrupted(
                session, now=now, lease_s=self._settings.builds.lease_s
            )
        for build_id in failed:
            log.warning("build id=%s interrupted: its server stopped running it", build_id)

    def close(self) -> None:
        self._tools.registry.close()
