"""Delivery of built-in alerts to Alertmanager (`POST /api/v2/alerts`), kept while it cannot
be reached. Callers `put` alerts and go on; `run` posts what is pending, and when Alertmanager
is down or refuses, keeps it and tries again with back-off (1 s doubling to 30 s), logging the
outage once and the recovery once.

Memory is bounded: only the newest version of each alert (by its labels) is kept, since
Alertmanager would only keep that one too, and at most `max_kept` alerts; beyond that the
oldest are dropped and counted. An alert refused as malformed (400) is dropped, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import httpx

from dockyard.metrics.alert import Alert, Identity, v2_body

log = logging.getLogger("dockyard.alarms")

Sleep = Callable[[float], Awaitable[None]]
MAX_KEPT = 5_000
BATCH = 500
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
PATH = "/api/v2/alerts"


class AlertOutbox:
    """Alerts on their way to the Alertmanager at `url` (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        max_kept: int = MAX_KEPT,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._endpoint = url.rstrip("/") + PATH
        self._client = client
        self._max = max_kept
        self._sleep = sleep
        self._pending: dict[tuple[str, Identity], Alert] = {}
        self._wake = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.failing: str | None = None
        """Why the latest post failed; None once one succeeds."""

    @property
    def pending(self) -> int:
        return len(self._pending)

    def put(self, alerts: Iterable[Alert]) -> None:
        """Queue `alerts` (a newer version of a pending alert replaces it), logging each.
        Call from the event loop's thread."""
        for alert in alerts:
            who = " ".join(f"{k}={v}" for k, v in alert.identity.labels().items())
            log.info("alarm %s %s until=%s", alert.name, who, alert.ends_at.isoformat())
            self._pending.pop(alert.key, None)  # re-inserted last: it is the newest now
            self._pending[alert.key] = alert
        while len(self._pending) > self._max:
            del self._pending[next(iter(self._pending))]
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("alarms: %d alerts dropped, Alertmanager unreachable: %s",
                          self.dropped, self.failing)  # fmt: skip
        if self._pending:
            self._wake.set()

    async def run(self) -> None:
        """Post pending alerts until cancelled; never returns otherwise."""
        delay = RETRY_FIRST_S
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                if await self.flush():
                    delay = RETRY_FIRST_S
                    continue
                await self._sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def flush(self) -> bool:
        """Post one batch of pending alerts; False (they stay pending) if Alertmanager could
        not take them now."""
        batch = list(self._pending.values())[:BATCH]
        error, retry = await self._post(batch)
        if not retry:
            for alert in batch:
                if self._pending.get(alert.key) is alert:  # not replaced meanwhile
                    del self._pending[alert.key]
        if error is None:
            self.sent += len(batch)
            if self.failing is not None:
                log.info("alarms: Alertmanager reachable again, %d alerts sent", len(batch))
            self.failing = None
        elif not retry:
            log.error("alarms: %s; %d alerts dropped", error, len(batch))
            self.dropped += len(batch)
        else:
            if self.failing is None:
                log.warning("alarms: Alertmanager unreachable, %d alerts kept to retry: %s",
                            len(self._pending), error)  # fmt: skip
            self.failing = error
        return not retry

    async def _post(self, batch: list[Alert]) -> tuple[str | None, bool]:
        """(what went wrong or None, whether to keep the batch and retry)."""
        try:
            answer = await self._client.post(self._endpoint, json=v2_body(batch))
        except httpx.HTTPError as exc:
            return f"{self._endpoint}: {type(exc).__name__} {exc}", True
        if answer.is_success:
            return None, False
        said = answer.text[:200].strip()
        if answer.status_code == 400:
            return f"{self._endpoint} refused them as malformed: {said}", False
        return f"{self._endpoint} answered {answer.status_code}: {said}", True
