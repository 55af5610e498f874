"""The live view's event stream: lines, the dropped marker, and the error event that always
ends it, with `retry` false only for a query that can never work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dockyard.domain.errors import DockyardError, Invalid, Unavailable
from dockyard.logs.center import Dropped
from dockyard.logs.index.base import Filters, Hit
from dockyard.portal import log_pages
from dockyard.portal.log_pages import live_events

FILTERS = Filters(team="payments", service="api", env="test")
HIT = Hit(
    team="payments", service="api", env="test", instance="7f3a9c01d2", channel="console",
    stream="stderr", seq=3, time_ns=1_765_015_200 * 10**9, level="error", text="a\nb <b>",
)  # fmt: skip


class Scripted:
    """A follower that yields `items`, then raises `end` (or waits for ever without one)."""

    def __init__(self, items: list[Hit | Dropped], end: DockyardError | None) -> None:
        self.items = items
        self.end = end
        self.closed = False

    async def follow(
        self, filters: Filters, text: str, *, tail: int
    ) -> AsyncIterator[Hit | Dropped]:
        try:
            for item in self.items:
                yield item
            if self.end is not None:
                raise self.end
            await asyncio.Event().wait()
        finally:
            self.closed = True


def events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.decode().split("\n\n"):
        rows = dict(row.split(": ", 1) for row in block.splitlines() if not row.startswith(":"))
        if rows:
            found.append((rows["event"], json.loads(rows["data"])))
    return found


async def collect(center: Scripted | None) -> bytes:
    chunks = [c async for c in live_events(center, FILTERS, "", tail=5, service_url="/ui/s")]
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("end", "retry"), [(Unavailable("the log stream is down"), True), (Invalid("bad q"), False)]
)
def test_lines_and_drops_become_events_and_an_error_ends_the_stream(
    end: DockyardError, retry: bool
) -> None:
    center = Scripted([HIT, Dropped(7, "a client slower than the log")], end)
    body = asyncio.run(collect(center))

    assert events(body) == [
        ("line", {
            "time": "12-06 10:00:00.000", "stamp": "2025-12-06T10:00:00.000000000Z",
            "instance": "7f3a9c01d2", "colour": 3, "channel": "console", "seq": 3,
            "stream": "stderr", "level": "error", "text": "a\nb <b>", "cut": 0,
            "href": "/ui/s?env=test#instance-7f3a9c01d2", "origin": "", "image": "",
        }),
        ("dropped", {"count": 7, "reason": "a client slower than the log"}),
        ("error", {"message": end.message, "retry": retry}),
    ]  # fmt: skip
    assert center.closed


def test_without_a_log_center_the_stream_says_so_and_ends() -> None:
    assert events(asyncio.run(collect(None))) == [
        ("error", {"message": "the log center is not configured", "retry": True})
    ]


def test_a_quiet_stream_sends_keep_alives_and_a_closed_view_ends_the_follower(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log_pages, "KEEP_ALIVE_S", 0.01)
    center = Scripted([], None)

    async def open_then_leave() -> list[bytes]:
        stream = live_events(center, FILTERS, "", tail=5, service_url="/ui/s")
        got = [await anext(stream) for _ in range(3)]
        await stream.aclose()  # the browser went away
        return got

    assert asyncio.run(open_then_leave()) == [
        b": open\n\n",
        b": keep-alive\n\n",
        b": keep-alive\n\n",
    ]
    assert center.closed
