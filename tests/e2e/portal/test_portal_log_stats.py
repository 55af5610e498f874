"""The Logs tab's figures panel over plain HTTP: the page asks for it, it shows per instance
lines read, sent, indexed, archived and lost with the lag and each loss; another team gets 404."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.logs.center import LogCenter
from dockyard.logs.index import LogIndex
from dockyard.logs.stats import AGENT, INDEXER, Loss, Report, Row
from dockyard.logs.stats_board import MemoryStatsBoard
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import (
    A,
    B,
    logged_in,
    portal_with_logs,
    run_apart,
    seeded_index,
)

LOGS = "/teams/payments/services/api/logs"
S = 1_000_000_000


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = seeded_index(tmp_path / "index")
    yield opened
    opened.close()


@pytest.fixture
def portal(world: World, index: LogIndex) -> Iterator[str]:
    now = time.time_ns()
    board = MemoryStatsBoard()
    lost = Loss(now - 60 * S, "a rotated file deleted unread", 2048)
    for report in (
        Report(AGENT, "h1", now, (Row("payments", "api", "test", A.instance, read=150, sent=150),
                                  Row("payments", "api", "test", B.instance, read=3, sent=3,
                                      lost=1, lost_bytes=2048, losses=(lost,)))),
        Report(INDEXER, "h1", now, (Row("payments", "api", "test", A.instance, indexed=150,
                                        newest_ns=now - 2 * S),)),
    ):  # fmt: skip
        run_apart(board.put(report))
    center = LogCenter(index, stream=None, archive=None, index_days=7, stats=board)
    with portal_with_logs(world, center) as url:
        yield url


def test_the_logs_page_asks_for_the_figures_of_its_environment(portal: str, world: World) -> None:
    with logged_in(portal, world.payments_token) as client:
        page = client.get(LOGS, params={"env": "test"}).text
        build = client.get(LOGS, params={"env": "build"}).text
    assert 'hx-get="/ui/teams/payments/services/api/logs/stats?env=test"' in page
    assert 'id="log-stats"' not in build


def test_the_panel_shows_each_instance_the_total_the_lag_and_each_loss(
    portal: str, world: World
) -> None:
    with logged_in(portal, world.payments_token) as client:
        answer = client.get(LOGS + "/stats", params={"env": "test"})
    assert answer.status_code == 200, answer.text
    cells = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", answer.text, re.S)
    ]
    assert [A.instance, "150", "150", "0", "150", "0", "0"] in cells
    assert [B.instance, "3", "3", "0", "0", "0", "1"] in cells
    assert ["total", "153", "153", "0", "150", "0", "1"] in cells
    assert re.search(r"Index lag 2\.\d s", answer.text) and "archive lag –" in answer.text
    assert (
        f'#instance-{B.instance}">{B.instance}</a>: a rotated file deleted unread (2048 bytes)'
        in (answer.text)
    )
    assert 'hx-trigger="every 10s"' in answer.text


def test_another_team_gets_404_for_the_panel(portal: str, world: World) -> None:
    with logged_in(portal, world.search_token) as client:
        answer = client.get(LOGS + "/stats", params={"env": "test"})
    assert answer.status_code == 404 and A.instance not in answer.text
