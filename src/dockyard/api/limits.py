"""Request body size limit, as ASGI middleware in front of every route.

A body is refused with 413 when its Content-Length is over the limit (before anything is read),
or, when no length was declared (chunked), as soon as the bytes received pass the limit. The
body is read whole before the route runs, so a refused request never reaches a route and
nothing is written. Bodies under the limit are replayed to the app unchanged. Paths under an
`exempt` prefix (git pushes, streamed with a limit of their own) pass through untouched.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.api.errors import error_response
from dockyard.domain.errors import TooLarge


class BodyLimit:
    """Refuses request bodies larger than `max_bytes` with the documented 413 JSON."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        first = await self._read_body(receive)
        if first is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(first, receive), send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one message, or None once more than `max_bytes` arrived."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client left; let the app see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        size = f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"
        error = TooLarge(
            f"the request body is larger than {size}; send less (split a large change "
            "into several requests)"
        )
        response: JSONResponse = error_response(error)
        response.headers["Connection"] = "close"  # the unread rest of the body is not wanted
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server rejects it; we still count the bytes that come
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive() that hands out the buffered body once, then defers to the real one."""
    pending: list[Message] = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
