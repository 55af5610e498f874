"""Server-sent events, written once for both ends. Serving (log tails, the endpoint watch and
feed): each item framed as an event, a comment every `keep_alive_s` so proxies and clients do
not take silence for a dead connection, and last an `error` event ({message, retry}) when the
stream cannot go on. Reading (the CLI's live tails, the routing programs' feed): the one parser
of the format, fed a line at a time. No I/O: the caller's iterator does that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dockyard.domain.errors import DockyardError

KEEP_ALIVE_S = 15.0
T = TypeVar("T")


async def server_sent(
    items: AsyncIterator[T],
    frame: Callable[[T], bytes],
    *,
    permanent: tuple[type[DockyardError], ...],
    ended: str,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncGenerator[bytes, None]:
    """The events of `items` (each framed by `frame`) until it ends or the client goes; `items`
    is closed. A `permanent` error ends with retry false (asking again cannot help), any other
    Dockyard error or the end of `items` (`ended` says so) with retry true."""
    yield b": open\n\n"  # the client sees the stream open before the first event
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            # Wait beside the iterator rather than cancelling it: a keep-alive must not end it.
            pending = pending or asyncio.ensure_future(anext(items))
            done, _ = await asyncio.wait({pending}, timeout=keep_alive_s)
            if not done:
                yield b": keep-alive\n\n"
                continue
            item, pending = pending.result(), None
            yield frame(item)
    except permanent as exc:
        yield event("error", {"message": exc.message, "retry": False})
    except DockyardError as exc:
        yield event("error", {"message": exc.message, "retry": True})
    except StopAsyncIteration:
        yield event("error", {"message": ended, "retry": True})
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(BaseException):
            await items.aclose()  # type: ignore[attr-defined]


def event(name: str, data: dict[str, Any]) -> bytes:
    # json.dumps escapes newlines, so one event's data is always one `data:` line.
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@dataclass(frozen=True)
class Event:
    name: str
    """The `event:` field; "message" when the server sent none."""
    data: str
    """The `data:` lines joined by newlines."""
    id: str | None = None


@dataclass
class EventReader:
    """Reads events a line at a time, as browsers do: comments (`: keep-alive`) and unknown
    fields are skipped, an event without data is dropped, an unfinished last one never ends."""

    _name: str = "message"
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, raw: str) -> Event | None:
        """The event `raw` (one line, its line ending or not) completes, if it completes one."""
        line = raw.rstrip("\r\n")
        if not line:
            found = Event(self._name, "\n".join(self._data), self._id) if self._data else None
            self._name, self._data = "message", []
            return found
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """The events of `lines`, in the order sent (see EventReader)."""
    reader = EventReader()
    for line in lines:
        found = reader.feed(line)
        if found is not None:
            yield found
