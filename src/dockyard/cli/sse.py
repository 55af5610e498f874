"""Server-sent events as the API streams them (live log tails): the one parser of the format.

Pure over lines, so it is tested by tables; `ApiClient.events` feeds it a response's lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    name: str
    """The `event:` field; "message" when the server sent none."""
    data: str
    """The `data:` lines joined by newlines."""
    id: str | None = None


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events in the order sent. Comments (`: keep-alive`) and unknown fields are skipped; an
    event without data is dropped, as browsers do; an unfinished last event is dropped."""
    name, data, event_id = "message", list[str](), None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield Event(name, "\n".join(data), event_id)
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
