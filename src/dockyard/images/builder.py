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
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.domain.status import EnvKey
from dockyard.images.build_events import BuildEvents
from dockyard.images.build_job import Tools, run_build
from dockyard.images.config import ImageSettings
from dockyard.images.engine import Engine
from dockyard.images.hosted import HostedRepos, RepoOwner
from dockyard.images.registry import RegistryClient
from dockyard.images.work_dir import WorkDir
from dockyard.store import builds, services
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
            engine=Engine(
                docker_host, timeout_s=settings.builds.timeout_s, buildkit=settings.builds.buildkit
            ),
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
        swept = asyncio.create_task(self._keep_swept())
        try:
            while True:
                await slots.acquire()
                # This claim sees every build requested before it: earlier wakes are spent.
                self._wake.clear()
                claimed = self._loop.create_future()
                task = asyncio.create_task(self._take(claimed, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if not await claimed:
                    await self._sleep()
        finally:
            for task in (lease, swept, *tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(lease, swept, *tasks, return_exceptions=True)

    async def _take(self, claimed: asyncio.Future[bool], slots: asyncio.Semaphore) -> None:
        """Claim the next queued build and run it, in one worker thread: the build starts the
        moment it is claimed, with no hop back to the event loop in between. `claimed` says
        at once whether there was one; the slot is free again when this returns."""
        try:
            await asyncio.to_thread(self._claim_and_run, claimed)
        except Exception:
            log.exception("the builder failed to claim or run a build")
        finally:
            found = claimed.done() and not claimed.cancelled() and claimed.result()
            if not claimed.done():
                claimed.set_result(False)
            if found:
                # A slot is free: look for the next build now. Woken before the slot is
                # released, so a loop waiting for the slot spends this wake on its claim.
                self.wake()
            slots.release()

    def _claim_and_run(self, claimed: asyncio.Future[bool]) -> None:
        job = self._claim()
        assert self._loop is not None  # set by run()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(_settle, claimed, job is not None)
        if job is None:
            return
        self._running.add(job.id)
        log.info("build started team=%s service=%s build=%s", job.team, job.service, job.number)
        try:
            run_build(self._tools, job)
        finally:
            self._running.discard(job.id)

    def _claim(self) -> builds.Claimed | None:
        try:
            with self._tools.db.session() as session:
                job = builds.claim_next(session, worker=self._worker, now=self._tools.clock())
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

    async def _keep_swept(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.sweep_once)
                if removed:
                    log.info("build work files removed: %s", removed)
            except (DockyardError, OSError) as exc:
                log.warning("build work sweep failed: %s", exc)
            await asyncio.sleep(self._settings.builds.sweep_s)

    def sweep_once(self) -> int:
        """Remove the mirrors and kept contexts of deleted services and the contexts of
        builds whose server died (older than the build timeout); move deleted services'
        hosted repositories aside, and remove those retired longer than the keep time.
        How many things were removed or moved."""
        work = WorkDir(self._settings.builds.work_dir)
        hosted = HostedRepos(self._settings.sources.hosted_dir)
        markers = hosted.markers()
        on_disk = work.service_ids()
        owners = {repo: RepoOwner.parse(marker) for repo, marker in markers.items()}
        named = {owner.service_id for owner in owners.values() if owner is not None}
        with self._tools.db.session() as session:
            live = services.live_services(session, on_disk | named)
        done = work.sweep(live=live.keys(), max_age_s=self._settings.builds.timeout_s)
        keep_s = self._settings.sources.retired_keep_s
        return done + _sweep_hosted(hosted, markers, owners, live=live, keep_s=keep_s)

    def close(self) -> None:
        self._tools.registry.close()


def _sweep_hosted(
    hosted: HostedRepos,
    markers: dict[Path, str],
    owners: dict[Path, RepoOwner | None],
    *,
    live: dict[int, datetime],
    keep_s: float,
) -> int:
    """Retire the hosted repositories of services not `live` (a marker of no known form is
    left alone); purge those retired before `keep_s` ago. How many were retired or purged."""
    done = 0
    for repo, owner in owners.items():
        if owner is None or live.get(owner.service_id) == owner.created:
            continue
        if hosted.retire(repo, marker=markers[repo]):
            log.info("hosted repository %s retired: its service was deleted", repo)
            done += 1
    return done + hosted.purge_retired(older_than=time.time() - keep_s)


def _settle(claimed: asyncio.Future[bool], found: bool) -> None:
    if not claimed.done():  # not cancelled with the builder meanwhile
        claimed.set_result(found)
