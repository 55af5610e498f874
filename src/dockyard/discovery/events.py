"""An endpoint watch as server-sent events, for the API and the portal alike.

Events: `endpoints` (the rendering of an EndpointSet) once per change, first the current set
when the caller's version is not current; last `error` ({message, retry}) when the watch cannot
go on (the service was deleted or unpublished: retry false). A comment every `keep_alive_s`
keeps proxies and clients from taking a quiet service for a dead connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from dockyard.discovery.endpoints import EndpointSet
from dockyard.domain.errors import NotFound
from dockyard.domain.sse import KEEP_ALIVE_S, event
from dockyard.domain.sse import server_sent as framed


def server_sent(
    changes: AsyncGenerator[EndpointSet, None],
    render: Callable[[EndpointSet], dict[str, Any]],
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncGenerator[bytes, None]:
    """The events of `changes` until it ends or the client goes; `changes` is closed."""
    return framed(
        changes, lambda found: event("endpoints", render(found)), permanent=(NotFound,),
        ended="the watch ended", keep_alive_s=keep_alive_s,
    )  # fmt: skip
