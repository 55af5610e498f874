"""A live tail as server-sent events: what the API and the portal send, each with its own
rendering of a line.

Events: `line` (the rendering of a Hit), `dropped` ({count, reason}) for lines a slow client
missed, and last `error` ({message, retry}; retry false when the query itself is wrong) when
the tail cannot go on. A comment every `keep_alive_s` keeps proxies and clients from taking
silence for a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from dockyard.domain.errors import DockyardError, Invalid
from dockyard.logs.center import Dropped
from dockyard.logs.index.base import Hit

KEEP_ALIVE_S = 15.0


async def server_sent(
    follower: AsyncIterator[Hit | Dropped],
    render: Callable[[Hit], dict[str, Any]],
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncGenerator[bytes, None]:
    """The events of `follower` until it ends or the client goes; the follower is closed."""
    yield b": open\n\n"  # the client sees the stream open before the first line
    pending: asyncio.Future[Hit | Dropped] | None = None
    try:
        while True:
            # Wait beside the follower rather than cancelling it: a timeout must not end it.
            pending = pending or asyncio.ensure_future(anext(follower))
            done, _ = await asyncio.wait({pending}, timeout=keep_alive_s)
            if not done:
                yield b": keep-alive\n\n"
                continue
            item, pending = pending.result(), None
            if isinstance(item, Dropped):
                yield event("dropped", {"count": item.count, "reason": item.reason})
            else:
                yield event("line", render(item))
    except Invalid as exc:
        yield event("error", {"message": exc.message, "retry": False})
    except DockyardError as exc:
        yield event("error", {"message": exc.message, "retry": True})
    except StopAsyncIteration:
        yield event("error", {"message": "the live tail ended", "retry": True})
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(BaseException):
            await follower.aclose()  # type: ignore[attr-defined]


def event(name: str, data: dict[str, Any]) -> bytes:
    # json.dumps escapes newlines, so one event's data is always one `data:` line.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
