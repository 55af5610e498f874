"""Following the all-services endpoint feed (`GET /api/v1/endpoints?watch=1`) from a routing
program: the DNS names, the load balancer.

The control plane may go away at any moment; routing must not. `Feed.follow` yields the first
snapshot, then one per change, and while the server is away yields nothing: its caller keeps
serving the last snapshot (never an empty one because the server is gone). Each loss is logged
with its reason, and the feed reconnects with back-off, asking only for what changed since.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.snapshot import Route, RouteKey, Snapshot, snapshot_from_json
from dockyard.domain.errors import DockyardError
from dockyard.domain.sse import EventReader

__all__ = ["Backoff", "Endpoint", "Feed", "Route", "RouteKey", "Snapshot"]

PATH = "/api/v1/endpoints"
log = logging.getLogger("dockyard.discovery.feed")


class FeedLost(Exception):
    """The stream ended or could not be read; the message says why."""


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnections: `first_s`, doubling up to `most_s`; reset by a snapshot."""

    first_s: float = 0.2
    most_s: float = 5.0


class Feed:
    """The feed of the server at `base_url`, read with `token` (the admin's; a callable is
    asked again at each connection, so a token stored later is picked up)."""

    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str | None],
        *,
        backoff: Backoff = Backoff(),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._backoff = backoff
        self._transport = transport
        self.connected = False
        """True while a stream is open (for health reports)."""

    async def follow(self) -> AsyncGenerator[Snapshot, None]:
        """The first snapshot, then each changed one, forever (until the caller stops)."""
        last: Snapshot | None = None
        delay = self._backoff.first_s
        while True:
            try:
                async for snapshot in self._stream(since=last.version if last else None):
                    delay = self._backoff.first_s
                    if last is None or snapshot.version != last.version:
                        last = snapshot
                        yield snapshot
                reason = "the server ended the stream"
            except (httpx.HTTPError, FeedLost) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self.connected = False
            # The first failure after a connection is a warning; the retries of one outage
            # are info, or a long outage would fill the log with the same line.
            log.log(
                logging.WARNING if delay == self._backoff.first_s else logging.INFO,
                "endpoint feed lost: %s; serving the last snapshot (version %s); "
                "reconnecting in %.1f s",
                reason, last.version if last else "none yet", delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff.most_s)

    async def _stream(self, *, since: str | None) -> AsyncGenerator[Snapshot, None]:
        params = {"watch": "1", **({"since": since} if since else {})}
        token = self._token if isinstance(self._token, str) else self._token()
        if not token:
            raise FeedLost("no admin token to read the feed with")
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(5.0, read=None)  # the server sends a keep-alive every 15 s
        async with (
            httpx.AsyncClient(
                base_url=self._base_url, transport=self._transport, timeout=timeout
            ) as client,
            client.stream("GET", PATH, params=params, headers=headers) as answer,
        ):
            if answer.status_code != 200:
                await answer.aread()
                raise FeedLost(f"the server answered {answer.status_code}: {answer.text[:200]}")
            log.info("endpoint feed connected to %s", self._base_url)
            self.connected = True
            reader = EventReader()
            async for line in answer.aiter_lines():
                if (found := reader.feed(line)) is not None:
                    yield _decoded(found.name, found.data)


def _decoded(name: str, data: str) -> Snapshot:
    """The snapshot an event carries; FeedLost for an error event or a malformed one."""
    try:
        body = json.loads(data)
        if name == "error":
            raise FeedLost(f"the server ended the stream: {body.get('message')}")
        if name != "snapshot":
            raise FeedLost(f"unexpected event {name!r} in the endpoint feed")
        return snapshot_from_json(body)
    except (ValueError, KeyError, TypeError, AttributeError, DockyardError) as exc:
        raise FeedLost(f"a malformed {name!r} event in the endpoint feed: {exc}") from exc
