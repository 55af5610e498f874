"""A live tail as server-sent events: what the API and the portal send, each with its own
rendering of a line.

Events: `line` (the rendering of a Hit), `dropped` ({count, reason}) for lines a slow client
missed, and last `error` ({message, retry}; retry false when the query itself is wrong) when
the tail cannot go on. A comment every `keep_alive_s` keeps proxies and clients from taking
silence for a dead connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from dockyard.domain.errors import Invalid
from dockyard.domain.sse import KEEP_ALIVE_S, event
from dockyard.domain.sse import server_sent as framed
from dockyard.logs.center import Dropped
from dockyard.logs.index.base import Hit


def server_sent(
    follower: AsyncIterator[Hit | Dropped],
    render: Callable[[Hit], dict[str, Any]],
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncGenerator[bytes, None]:
    """The events of `follower` until it ends or the client goes; the follower is closed."""

    def frame(item: Hit | Dropped) -> bytes:
        if isinstance(item, Dropped):
            return event("dropped", {"count": item.count, "reason": item.reason})
        return event("line", render(item))

    return framed(
        follower, frame, permanent=(Invalid,), ended="the live tail ended",
        keep_alive_s=keep_alive_s,
    )  # fmt: skip
