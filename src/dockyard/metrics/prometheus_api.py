"""Prometheus's HTTP query API, as Dockyard reads it for charts, `top` and the query API.

Only this module talks to Prometheus for reading; teams never reach it. Its failures are
translated here, once: Prometheus unreachable, timing out or failing → `MetricsUnavailable`
(503); an expression or a time it refuses → `Malformed` (400) with Prometheus's own reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from dockyard.domain.errors import Malformed, MetricsUnavailable

QUERY_TIMEOUT_S = 10.0
"""Prometheus abandons a query after this long, and the request is given a little more."""
_REFUSED = (400, 422)
"""bad_data and execution errors: the query, not Prometheus, is at fault."""


@dataclass(frozen=True)
class PrometheusReader:
    """Reads one Prometheus at `url`, which scrapes every `scrape_interval_s` seconds."""

    url: str
    scrape_interval_s: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None
    """Tests may pass one; None: plain HTTP."""
    now: Callable[[], float] = time.time
    """Prometheus's time (Unix seconds): charts end at it, whatever clock the caller keeps."""

    async def instant(self, expr: str, *, at: str | None = None) -> dict[str, Any]:
        """Prometheus's `data` ({resultType, result}) for `expr` at `at` (Unix seconds or
        RFC 3339; None: now)."""
        params = {"query": expr} | ({"time": at} if at else {})
        return await self._get("/api/v1/query", params)

    async def range(self, expr: str, *, start: str, end: str, step: str) -> dict[str, Any]:
        """Prometheus's `data` (a matrix) for `expr` from `start` to `end` every `step`."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        return await self._get("/api/v1/query_range", params)

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        params = params | {"timeout": f"{QUERY_TIMEOUT_S:g}s"}
        try:
            async with httpx.AsyncClient(
                base_url=self.url, timeout=QUERY_TIMEOUT_S + 2, transport=self.transport
            ) as client:
                answer = await client.get(path, params=params)
        except httpx.HTTPError as e:
            raise MetricsUnavailable(
                f"metrics unavailable: Prometheus at {self.url} does not answer ({e}); "
                "check that it runs (`dockyard status`)"
            ) from e
        return self._data(answer)

    def _data(self, answer: httpx.Response) -> dict[str, Any]:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code in _REFUSED:
            reason = body.get("error") or answer.text[:200]
            raise Malformed(f"Prometheus refused the query: {reason}", field="query")
        if answer.status_code != 200 or body.get("status") != "success":
            reason = body.get("error") or f"HTTP {answer.status_code}"
            raise MetricsUnavailable(f"metrics unavailable: Prometheus failed the query ({reason})")
        data: dict[str, Any] = body["data"]
        return data
