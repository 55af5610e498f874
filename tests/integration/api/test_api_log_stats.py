"""`GET /logs/stats`: a service's log figures merged from every process's report, per instance,
with losses and lag; a team sees only its own; without a board the answer says so."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.api import ApiDeps, build_api
from dockyard.cli import app as app_cli
from dockyard.cli.context import CliEnv
from dockyard.logs.center import LogCenter
from dockyard.logs.index import open_engine
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.stats import AGENT, ARCHIVER, INDEXER, Loss, Report, Row
from dockyard.logs.stats_board import MemoryStatsBoard
from dockyard.settings import ClientCredentials, write_credentials
from tests.support.serving import serve

from .api_support import API, TestClient, make_team

S = 1_000_000_000
STATS = f"{API}/logs/stats"
WEB = {"team": "alpha", "service": "web", "env": "test"}


def row(instance: str, **counts: object) -> Row:
    return Row("alpha", "web", "test", instance, **counts)  # type: ignore[arg-type]


@pytest.fixture
def board() -> MemoryStatsBoard:
    now = time.time_ns()
    made = MemoryStatsBoard()
    lost = Loss(now - 30 * S, "web-2's json-file rotated away unread", 4096)
    reports = [
        Report(AGENT, "h1", now, (row("web-1", read=120, sent=120),)),
        Report(AGENT, "h2", now, (row("web-2", read=50, sent=48, dropped=2, lost=1,
                                      lost_bytes=4096, losses=(lost,)),), stream_waiting=1),
        Report(INDEXER, "h1", now, (row("web-1", indexed=120, newest_ns=now - 1 * S),
                                    row("web-2", indexed=48, newest_ns=now - 2 * S))),
        Report(ARCHIVER, "h1", now, (row("web-1", archived=100, newest_ns=now - 90 * S),)),
    ]  # fmt: skip
    for report in reports:
        asyncio.run(made.put(report))
    return made


@pytest.fixture
def served(deps: ApiDeps, tmp_path: Path, board: MemoryStatsBoard) -> Iterator[TestClient]:
    index = open_engine("fts5", tmp_path / "index")
    center = LogCenter(index, stream=MemoryLogStream(), archive=None, index_days=7, stats=board)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    index.close()


def test_a_team_sees_its_service_s_figures_per_instance(
    served: TestClient, alpha: dict[str, str]
) -> None:
    answer = served.get(STATS, params=WEB, headers=alpha)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    total = body["total"]
    assert (total["read"], total["sent"], total["dropped"]) == (170, 168, 2)
    assert (total["indexed"], total["archived"], total["lost"]) == (168, 100, 1)
    by = {i["instance"]: i for i in body["instances"]}
    assert by["web-2"]["losses"] == [
        {"time": by["web-2"]["losses"][0]["time"], "what": "web-2's json-file rotated away unread",
         "bytes": 4096}
    ]  # fmt: skip
    assert by["web-2"]["losses"][0]["time"].endswith("Z")
    assert body["indexer_lag_s"] == pytest.approx(2.0, abs=1)
    assert body["archiver_lag_s"] == pytest.approx(90.0, abs=1)
    assert body["stream_waiting"] == 1 and body["reported"] is not None


def test_another_team_gets_404_and_the_admin_sees_all(
    served: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    bravo = make_team(served, admin, "bravo")
    refused = served.get(STATS, params=WEB, headers=bravo)
    assert refused.status_code == 404 and "web-1" not in refused.text
    assert served.get(STATS, params=WEB, headers=admin).json()["total"]["read"] == 170
    own = served.get(STATS, params={**WEB, "team": "bravo"}, headers=bravo).json()
    assert own["instances"] == [] and own["total"]["read"] == 0


def test_a_service_nobody_reported_has_zero_figures_and_no_lag(
    served: TestClient, alpha: dict[str, str]
) -> None:
    body = served.get(STATS, params={**WEB, "env": "online"}, headers=alpha).json()
    assert body["instances"] == [] and body["indexer_lag_s"] is None and body["reported"] is None


def test_without_a_stats_board_the_figures_are_unavailable(
    deps: ApiDeps, tmp_path: Path, alpha: dict[str, str]
) -> None:
    index = open_engine("fts5", tmp_path / "index")
    center = LogCenter(index, stream=None, archive=None, index_days=7)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(STATS, params=WEB, headers=alpha)
    index.close()
    assert answer.status_code == 503 and "not configured" in answer.json()["message"]


def test_the_cli_shows_the_figures_and_each_loss(
    deps: ApiDeps, tmp_path: Path, board: MemoryStatsBoard, alpha: dict[str, str]
) -> None:
    index = open_engine("fts5", tmp_path / "index")
    center = LogCenter(index, stream=None, archive=None, index_days=7, stats=board)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    creds = tmp_path / "credentials.json"
    with serve(app) as url:
        token = alpha["Authorization"].removeprefix("Bearer ")
        write_credentials(creds, ClientCredentials(url, token))
        environ = {
            "HOME": str(tmp_path / "home"),
            "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
            "DOCKYARD_CREDENTIALS_FILE": str(creds),
            "DOCKYARD_CONFIG": str(tmp_path / "home" / "config.json"),
        }
        env = CliEnv(environ=environ, uid=1000)
        shown = CliRunner().invoke(app_cli, ["logs", "web", "-e", "test", "--stats"], obj=env)
        as_json = CliRunner().invoke(
            app_cli, ["logs", "web", "-e", "test", "--stats", "-o", "json"], obj=env
        )
    index.close()
    assert shown.exit_code == 0, shown.output
    table = [line.split() for line in shown.stdout.splitlines()]
    assert ["web-2", "50", "48", "2", "48", "0", "1"] in table
    assert ["total", "170", "168", "2", "168", "100", "1"] in table
    assert "web-2: web-2's json-file rotated away unread, 4096 bytes" in shown.stdout
    assert json.loads(as_json.stdout)["total"]["archived"] == 100
