"""The leader's built-in ServiceNoReadyInstances alarm: every `interval_s` it reads what the
controllers last wrote (store/readiness.py), lets metrics/readiness_alarms.py decide, and
posts the alerts to Alertmanager through the outbox. Runs while this server leads, beside
the controllers; a database that cannot answer is logged and asked again next round."""

from __future__ import annotations

import asyncio
import logging

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.metrics.alert import Alert, Identity
from dockyard.metrics.alert_outbox import AlertOutbox
from dockyard.metrics.readiness_alarms import Readiness, ReadinessAlarms
from dockyard.store.db import Database
from dockyard.store.readiness import readiness

log = logging.getLogger("dockyard.alarms")

INTERVAL_S = 2.0


class ReadinessWatch:
    def __init__(
        self,
        db: Database,
        outbox: AlertOutbox,
        *,
        clock: Clock,
        alarms: ReadinessAlarms | None = None,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._clock = clock
        self.alarms = alarms or ReadinessAlarms()
        self._interval_s = interval_s

    async def run(self) -> None:
        """Look every `interval_s` and post alerts until cancelled; an outbox that ends is a
        failure (raised)."""
        posting = asyncio.create_task(self._outbox.run(), name="readiness-outbox")
        try:
            while not posting.done():
                try:
                    await self.look()
                except DockyardError as exc:
                    log.warning("alarms: readiness not read, again in %.0f s: %s",
                                self._interval_s, exc.message)  # fmt: skip
                await asyncio.wait([posting], timeout=self._interval_s)
            await posting
            raise RuntimeError("the alert outbox returned")
        finally:
            posting.cancel()
            await asyncio.gather(posting, return_exceptions=True)

    async def look(self) -> list[Alert]:
        """One round: the alerts it queued."""
        seen = await asyncio.to_thread(self._read)
        alerts = self.alarms.step(seen, self._clock())
        self._outbox.put(alerts)
        return alerts

    def _read(self) -> list[Readiness]:
        with self._db.session() as session:
            rows = readiness(session)
        return [
            Readiness(Identity(r.team, r.service, r.env), desired=r.desired, ready=r.ready)
            for r in rows
        ]
