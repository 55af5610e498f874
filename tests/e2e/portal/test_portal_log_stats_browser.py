"""The Logs tab in Chromium: the figures panel arrives through htmx with the page, with each
instance's counts, the total and the loss; lines show their instance's revision, digest and
commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dockyard.logs.center import LogCenter
from dockyard.logs.index import LogIndex
from dockyard.logs.stats import AGENT, INDEXER, Loss, Report, Row
from dockyard.logs.stats_board import MemoryStatsBoard, by_service
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import A, B, portal_with_logs, seeded_index
from tests.e2e.portal.test_portal_log_origins import built_and_running
from tests.e2e.portal.test_portal_login import log_in

pytestmark = pytest.mark.browser
S = 1_000_000_000


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = seeded_index(tmp_path / "index")
    yield opened
    opened.close()


def board_of_api() -> MemoryStatsBoard:
    now = time.time_ns()
    board = MemoryStatsBoard()
    loss = Loss(now - 60 * S, "a rotated file deleted unread", 2048)
    rows = (
        Row("payments", "api", "test", A.instance, read=150, sent=150),
        Row("payments", "api", "test", B.instance, read=3, sent=3, lost=1, lost_bytes=2048,
            losses=(loss,)),
    )  # fmt: skip
    indexed = (Row("payments", "api", "test", A.instance, indexed=150, newest_ns=now - 2 * S),)
    # Filled directly: Playwright's sync API runs an event loop in this thread.
    board.entries.update(by_service(Report(AGENT, "h1", now, rows)))
    board.entries.update(by_service(Report(INDEXER, "h1", now, indexed)))
    return board


def test_the_figures_and_each_line_s_origin_show_on_the_logs_tab(
    world: World, page: Page, index: LogIndex
) -> None:
    revision = built_and_running(world)
    center = LogCenter(index, stream=None, archive=None, index_days=7, stats=board_of_api())
    with portal_with_logs(world, center) as url:
        log_in(page, url, world.payments_token)
        page.goto(f"{url}/teams/payments/services/api/logs?env=test")
        total = page.locator("#log-stats tr.total td")
        expect(total).to_have_text(["total", "153", "153", "0", "150", "0", "1"])
        expect(page.locator(".log-losses li")).to_contain_text(
            f"{B.instance}: a rotated file deleted unread (2048 bytes)"
        )
        origin = page.locator(f"#search-lines .log-line[data-instance='{A.instance}'] .origin")
        expect(origin.first).to_have_text(f"r{revision} · 1a2b3c4d · 9f8e7d6c")
        origin.first.click()
        expect(page).to_have_url(
            f"{url}/teams/payments/services/api?env=test#instance-{A.instance}"
        )
