"""Garbage collection of labelled containers that no service wants any more.

Such containers appear when a service row is purged while an instance was starting, or when
the database was restored from an older copy. They are removed only after being seen orphaned
for a grace period, so a race with a service being created is never fatal. Like the
reconciler, the collector stops a container and lets the agent ship its last log lines before
removing it (the logs finalizer).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from dockyard.controller.finalizer import Finalized, LogsFinalizer
from dockyard.domain.clock import Clock
from dockyard.domain.instance import Observed, Owner, RunState
from dockyard.runtimes.base import Runtime
from dockyard.store import status as store
from dockyard.store.db import Database

log = logging.getLogger(__name__)


class OrphanCollector:
    def __init__(
        self,
        db: Database,
        runtime: Runtime,
        *,
        clock: Clock,
        grace_s: float,
        dry_run: bool = False,
        finalizer: LogsFinalizer | None = None,
        stop_grace_s: float = 10.0,
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._clock = clock
        self._grace_s = grace_s
        self._dry_run = dry_run
        self._finalizer = finalizer or LogsFinalizer(None, wait_s=0, poll_s=0)
        self._stop_grace_s = stop_grace_s
        self._first_seen: dict[str, datetime] = {}

    async def collect(self) -> list[Observed]:
        """One sweep. Returns the containers removed (or, in dry run, that would be)."""
        observed = await self._runtime.list(Owner())
        wanted = await asyncio.to_thread(self._wanted_keys)
        now = self._clock()
        # An adopted container names no platform: it may be another installation's, so it is
        # never removed here (README: containers made before platform labels).
        orphans = [
            o for o in observed if (o.team, o.service, o.env.value) not in wanted and not o.adopted
        ]
        seen_now = {o.runtime_id for o in orphans}
        self._first_seen = {
            rid: at for rid, at in self._first_seen.items() if rid in seen_now
        }  # forget containers that are gone or wanted again
        due = []
        for orphan in orphans:
            first = self._first_seen.setdefault(orphan.runtime_id, now)
            if (now - first).total_seconds() >= self._grace_s:
                due.append(orphan)
        for orphan in due:
            log.info(
                "removing orphan team=%s service=%s env=%s instance=%s dry_run=%s",
                orphan.team,
                orphan.service,
                orphan.env.value,
                orphan.instance_id,
                self._dry_run,
            )
            if not self._dry_run:
                await self._remove(orphan)
                self._first_seen.pop(orphan.runtime_id, None)
        return due

    async def _remove(self, orphan: Observed) -> None:
        if orphan.state is RunState.RUNNING:
            await self._runtime.stop(orphan, grace_s=self._stop_grace_s)
        if await self._finalizer.wait(orphan.instance_id) is not Finalized.SHIPPED:
            log.warning(
                "orphan removed before the agent shipped its last log lines "
                "team=%s service=%s env=%s instance=%s waited_s=%g",
                orphan.team,
                orphan.service,
                orphan.env.value,
                orphan.instance_id,
                self._finalizer.wait_s,
            )
        await self._runtime.destroy(orphan)

    def _wanted_keys(self) -> set[tuple[str, str, str]]:
        """(team, service, env) of every key a reconciler looks after."""
        with self._db.session() as session:
            return store.owned_keys(session)
