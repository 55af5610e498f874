"""An endpoint watch as server-sent events, for the API and the portal alike.

Events: `endpoints` (the rendering of an EndpointSet) once per change, first the current set
when the caller's version is not current; last `error` ({message, retry}) when the watch cannot
go on (the service was deleted or unpublished: retry false). A comment every `keep_alive_s`
keeps proxies and clients from taking a quiet service for a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

from dockyard.discovery.endpoints import EndpointSet
from dockyard.domain.errors import DockyardError, NotFound

KEEP_ALIVE_S = 15.0


async def server_sent(
    changes: AsyncGenerator[EndpointSet, None],
    render: Callable[[EndpointSet], dict[str, Any]],
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncGenerator[bytes, None]:
    """The events of `changes` until it ends or the client goes; `changes` is closed."""
    yield b": open\n\n"
    pending: asyncio.Future[EndpointSet] | None = None
    try:
        while True:
            # Wait beside the watch rather than cancelling it: a keep-alive must not end it.
            pending = pending or asyncio.ensure_future(anext(changes))
            done, _ = await asyncio.wait({pending}, timeout=keep_alive_s)
            if not done:
                yield b": keep-alive\n\n"
                continue
            current, pending = pending.result(), None
            yield event("endpoints", render(current))
    except NotFound as exc:
        yield event("error", {"message": exc.message, "retry": False})
    except DockyardError as exc:
        yield event("error", {"message": exc.message, "retry": True})
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(BaseException):
            await changes.aclose()


def event(name: str, data: dict[str, Any]) -> bytes:
    # json.dumps escapes newlines, so one event's data is always one `data:` line.
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
