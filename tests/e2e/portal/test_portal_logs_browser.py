"""The Logs page in Chromium: the live view shows the last lines, then new ones as they reach
a real nats-server (a new instance among them), pauses and counts, stops scrolling when the
reader scrolls up, re-follows with its filter, says when it cannot follow, marks lines the
server dropped, and shows markup in a log line as text."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from dockyard.logs.index import LogIndex
from dockyard.logs.record import Source
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import (
    SCRIPT,
    A,
    B,
    lines,
    log_center,
    portal_with_logs,
    publish,
    seeded_index,
    stream_name,
)
from tests.e2e.portal.test_portal_login import log_in
from tests.support.nats import NatsServer

pytestmark = pytest.mark.browser

LOGS = "/teams/payments/services/api/logs?env=test"
SCREENSHOT = "/tmp/portal-logs.png"
SSE = "text/event-stream"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = seeded_index(tmp_path / "index")
    yield opened
    opened.close()


def test_the_live_view_follows_new_lines_pauses_and_shows_markup_as_text(
    page: Page, world: World, index: LogIndex, own_nats: NatsServer
) -> None:
    name = stream_name()
    with portal_with_logs(world, log_center(index, own_nats.url, name)) as url:
        log_in(page, url, world.payments_token)
        page.goto(url + LOGS)
        live = page.locator("#live-lines .log-line")

        expect(page.locator("#live-state")).to_have_text("live")
        expect(live).to_have_count(153)  # the whole index: fewer lines than the tail asks
        expect(live.last.locator(".text")).to_have_text(SCRIPT)
        expect(page.locator("#search-lines .log-line").first.locator(".text")).to_have_text(SCRIPT)
        assert page.locator(".log-lines script").count() == 0 and page.title() != "owned"
        search_a = page.locator(f"#search-lines .log-line[data-instance='{A.instance}'] .inst")
        live_a = page.locator(f"#live-lines .log-line[data-instance='{A.instance}'] .inst")
        assert search_a.first.get_attribute("class") == live_a.first.get_attribute("class")
        expect(
            page.locator(f"#live-lines .log-line[data-instance='{B.instance}']").nth(1)
        ).to_have_class("log-line level-none cut")

        joined = Source("payments", "api", A.env, "d0c0ffee01")  # started by a rollout
        now = time.time_ns()
        publish(own_nats.url, name, [lines(A, 151, 2, t=now), lines(joined, 1, 1, t=now)])
        expect(live).to_have_count(156)
        expect(live.last).to_contain_text("d0c0ffee01")
        expect(page.locator("#live-instances li")).to_have_text(
            [A.instance, B.instance, "d0c0ffee01"]  # in order of their first line
        )

        page.locator("#live-lines").evaluate("box => { box.scrollTop = 0; }")
        expect(page.locator("#live-bottom")).to_be_visible()
        publish(own_nats.url, name, [lines(joined, 2, 1, t=time.time_ns())])
        expect(live).to_have_count(157)
        assert page.locator("#live-lines").evaluate("box => box.scrollTop") == 0

        page.click("#live-pause")
        publish(own_nats.url, name, [lines(A, 153, 3, t=time.time_ns(), word="held")])
        expect(page.locator("#live-paused")).to_have_text("3 new lines while paused")
        expect(live).to_have_count(157)
        page.click("#live-pause")
        expect(live).to_have_count(160)
        expect(live.last).to_contain_text("held line 155")
        expect(page.locator("#live-paused")).to_be_hidden()
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.fill("#live-filter", "boom")
        expect(live).to_have_count(1)
        expect(live.first).to_contain_text("ERROR boom")


def test_the_live_view_says_when_it_cannot_follow_and_retries(
    page: Page, world: World, index: LogIndex
) -> None:
    with portal_with_logs(world, log_center(index, None, stream_name())) as url:
        log_in(page, url, world.payments_token)
        page.goto(url + LOGS)

        state = page.locator("#live-state")
        expect(state).to_contain_text("unavailable: live tails need the log stream")
        expect(state).to_contain_text("retrying in 1 s")
        expect(state).to_contain_text("retrying in 2 s", timeout=5000)
        expect(page.locator("#search-lines .log-line")).to_have_count(100)


def test_lines_a_slow_view_missed_show_as_one_marker(
    page: Page, world: World, index: LogIndex
) -> None:
    line = {
        "time": "12-06 10:00:00.000", "stamp": "2025-12-06T10:00:00.000000000Z",
        "instance": A.instance, "colour": 3, "channel": "console", "seq": 1, "stream": "stdout",
        "level": "", "text": "before the gap", "cut": 0, "href": "#",
    }  # fmt: skip
    body = (
        f"event: line\ndata: {json.dumps(line)}\n\n"
        'event: dropped\ndata: {"count": 4200, "reason": "a client slower than the log"}\n\n'
        f"event: line\ndata: {json.dumps({**line, 'seq': 4202, 'text': 'after the gap'})}\n\n"
    )
    with portal_with_logs(world, log_center(index, None, stream_name())) as url:
        answers = iter([body])  # one answer; the view's retries after it find no server

        def follow(route: Route) -> None:
            answer = next(answers, None)
            if answer is None:
                route.abort()
            else:
                route.fulfill(status=200, headers={"Content-Type": SSE}, body=answer)

        page.route("**/logs/follow?*", follow)
        log_in(page, url, world.payments_token)
        page.goto(url + LOGS)

        expect(page.locator("#live-lines .log-line")).to_have_text(
            [
                re.compile("before the gap"),
                "… 4200 lines dropped (a client slower than the log) …",
                re.compile("after the gap"),
            ]
        )
        expect(page.locator("#live-state")).to_contain_text("retrying in 2 s")
        expect(page.locator("#live-lines .log-line")).to_have_count(3)
