"""Times typed on the command line, and the server-sent events of live tails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import typer

from dockyard.cli.moment import parse_moment
from dockyard.domain.sse import Event, parse_events

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-12-06T10:00:00Z", datetime(2026, 12, 6, 10, tzinfo=UTC)),
        ("2026-12-06", datetime(2026, 12, 6, tzinfo=UTC)),
        (
            "2026-12-06T10:00:00+08:00",
            datetime(2026, 12, 6, 10, tzinfo=timezone(timedelta(hours=8))),
        ),
    ],
)
def test_moments_are_ages_or_rfc3339(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=NOW, option="--since") == expected


@pytest.mark.parametrize("text", ["", "yesterday", "15 minutes", "-5m", "5y", "2026-13-01"])
def test_a_bad_moment_names_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(typer.BadParameter) as caught:
        parse_moment(text, now=NOW, option="--since")
    assert "30s, 15m" in str(caught.value)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ("data: a\n\n", [Event("message", "a")]),
        ("event: line\ndata: {}\nid: 7\n\n", [Event("line", "{}", "7")]),
        ("data: a\ndata: b\n\n", [Event("message", "a\nb")]),
        (": keep-alive\n\ndata:x\n\n", [Event("message", "x")]),
        ("event: dropped\n\n", []),
        ("data: unfinished\n", []),
        ("data: a\r\n\r\nevent: e\r\ndata: b\r\n\r\n", [Event("message", "a"), Event("e", "b")]),
    ],
)
def test_events_are_parsed_as_browsers_do(stream: str, expected: list[Event]) -> None:
    assert list(parse_events(stream.splitlines(keepends=True))) == expected
