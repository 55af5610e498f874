"""The Logs page over plain HTTP: search results for the team, another team's 404, older
pages by cursor, downloads, and the live route's server-sent events from a real nats-server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.logs.index import LogIndex
from dockyard.logs.record import Source
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import (
    OTHER,
    SCRIPT,
    A,
    B,
    lines,
    log_center,
    logged_in,
    portal_with_logs,
    publish,
    seeded_index,
    stream_name,
)
from tests.support.nats import NatsServer

LOGS = "/teams/payments/services/api/logs"
Event = tuple[str, dict[str, object]]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = seeded_index(tmp_path / "index")
    yield opened
    opened.close()


@pytest.fixture
def portal(world: World, index: LogIndex) -> Iterator[str]:
    with portal_with_logs(world, log_center(index, None, stream_name())) as url:
        yield url


def shown_lines(html: str) -> list[tuple[str, str]]:
    """(instance, seq) of each line on a page, in page order."""
    return re.findall(r'class="log-line[^"]*" data-instance="([^"]+)" data-seq="(\d+)"', html)


def test_a_team_member_sees_its_service_lines_newest_first(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        answer = client.get(LOGS, params={"env": "test"})

    assert answer.status_code == 200, answer.text
    found = shown_lines(answer.text)
    assert found[:4] == [("c95d02e6f1", "3"), ("c95d02e6f1", "2"), ("c95d02e6f1", "1"),
                         ("7f3a9c01d2", "150")]  # fmt: skip
    assert len(found) == 100
    assert "&lt;script&gt;document.title" in answer.text and SCRIPT not in answer.text
    assert re.search(r'class="log-line level-error stderr"', answer.text)
    assert re.search(r'class="log-line level-none cut".*?… cut 70000 bytes', answer.text, re.S)
    assert 'href="/ui/teams/payments/services/api?env=test#instance-7f3a9c01d2"' in answer.text
    assert "secret line" not in answer.text


def test_the_service_page_links_the_logs_of_its_environment(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        answer = client.get("/teams/payments/services/api", params={"env": "online"})

    assert 'href="/ui/teams/payments/services/api/logs?env=online"' in answer.text


def test_older_pages_continue_by_cursor_without_repeating_a_line(portal: str, world: World) -> None:
    seen: list[tuple[str, str]] = []
    with logged_in(portal, world.payments_token) as client:
        path: str | None = f"{LOGS}?env=test"
        while path is not None:
            answer = client.get(path.removeprefix("/ui"))
            assert answer.status_code == 200
            seen += shown_lines(answer.text)
            older = re.search(r'id="older" href="([^"]+)"', answer.text)
            path = older.group(1).replace("&amp;", "&") if older else None
    assert len(seen) == len(set(seen)) == 153


def test_the_form_narrows_the_search(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        errors = client.get(LOGS, params={"env": "test", "q": "boom", "stream": "stderr"})
        one = client.get(LOGS, params={"env": "test", "instance": "7f3a9c01d2", "q": "line 42"})
        online = client.get(LOGS, params={"env": "online"})

    assert shown_lines(errors.text) == [("c95d02e6f1", "1")]
    assert shown_lines(one.text) == [("7f3a9c01d2", "42")]
    assert 'value="line 42"' in one.text  # the form shows what was searched
    assert shown_lines(online.text) == [] and "No lines match." in online.text


def test_a_malformed_query_is_explained_on_the_page(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        answer = client.get(LOGS, params={"env": "test", "q": '"unclosed'})

    assert answer.status_code == 400
    assert "never closed" in answer.text and 'id="log-search"' in answer.text


def test_another_team_gets_404_from_the_page_the_live_route_and_downloads(
    portal: str, world: World
) -> None:
    with logged_in(portal, world.search_token) as client:
        for path, params in (
            (LOGS, {"env": "test"}),
            (LOGS + "/follow", {"env": "test"}),
            (LOGS + "/download", {"env": "test"}),
        ):
            answer = client.get(path, params=params)
            assert answer.status_code == 404, (path, answer.text)
            assert "7f3a9c01d2" not in answer.text


def test_a_download_holds_the_search_as_ndjson_or_text(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        page = client.get(LOGS, params={"env": "test", "q": "line"})
        link = re.search(r'id="download-ndjson" href="([^"]+)"', page.text)
        assert link is not None
        ndjson = client.get(link.group(1).replace("&amp;", "&").removeprefix("/ui"))
        text = client.get(LOGS + "/download", params={"env": "test", "q": "boom", "format": "text"})

    assert ndjson.status_code == 200 and "attachment" in ndjson.headers["content-disposition"]
    records = [json.loads(row) for row in ndjson.text.splitlines()]
    assert [(r["instance"], r["seq"]) for r in records] == [
        *((A.instance, seq) for seq in range(1, 151)),
        (B.instance, 3),  # oldest first
    ]
    assert [row.split(" ")[1:3] for row in text.text.splitlines()] == [["c95d02e6f1", "stderr"]]


def read_events(
    client: httpx.Client, params: dict[str, str | int], *, until: int, out: list[Event]
) -> threading.Thread:
    """Read the live route's events into `out` in a thread, until `until` of them came or an
    `error` event did."""

    def run() -> None:
        with client.stream("GET", LOGS + "/follow", params=params) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            name = ""
            for row in answer.iter_lines():
                if row.startswith("event: "):
                    name = row[7:]
                elif row.startswith("data: "):
                    out.append((name, json.loads(row[6:])))
                    if len(out) >= until or name == "error":
                        return

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    return reader


def wait_for(condition: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_live_route_streams_the_tail_then_new_lines_of_every_instance(
    world: World, index: LogIndex, own_nats: NatsServer
) -> None:
    name = stream_name()
    events: list[Event] = []
    center = log_center(index, own_nats.url, name)
    with portal_with_logs(world, center) as url, logged_in(url, world.payments_token) as client:
        reader = read_events(client, {"env": "test", "tail": 2}, until=5, out=events)
        wait_for(lambda: len(events) >= 2)
        now = time.time_ns()
        joined = Source("payments", "api", A.env, "d0c0ffee01")  # a new instance joins
        publish(own_nats.url, name, [
            lines(A, 151, 2, t=now), lines(joined, 1, 1, t=now),
            lines(OTHER, 4, 1, t=now, word="secret"),
        ])  # fmt: skip
        reader.join(20)

    assert [(e, d["instance"], d["seq"]) for e, d in events] == [
        ("line", "c95d02e6f1", 2), ("line", "c95d02e6f1", 3),
        ("line", "7f3a9c01d2", 151), ("line", "7f3a9c01d2", 152), ("line", "d0c0ffee01", 1),
    ]  # fmt: skip
    assert events[1][1]["text"] == SCRIPT  # data for textContent, drawn as text by logs.js
    assert events[0][1]["cut"] == 70000


@pytest.mark.parametrize(
    ("q", "retry", "words"),
    [("", True, "not configured"), ('"unclosed', False, "never closed")],
)
def test_the_live_route_ends_with_an_error_event_saying_why(
    world: World, index: LogIndex, q: str, retry: bool, words: str
) -> None:
    events: list[Event] = []
    with (
        portal_with_logs(world, log_center(index, None, stream_name()) if q else None) as url,
        logged_in(url, world.payments_token) as client,
    ):
        read_events(client, {"env": "test", "q": q}, until=1, out=events).join(10)

    assert [e for e, _ in events] == ["error"]
    assert events[0][1]["retry"] is retry and words in str(events[0][1]["message"])
