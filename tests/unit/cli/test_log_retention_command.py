"""`dockyard log-retention`: the rules from settings, the index's size per team and in all
measured on disk, and the last drop from the indexer's report file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.commands.log_retention import report_file
from dockyard.cli.context import CliEnv
from dockyard.domain.environment import Environment
from dockyard.logs.index import open_engine
from dockyard.logs.index.partitions import NS_PER_DAY
from dockyard.logs.index_retention import IndexRetention, Rules
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.retention import Caps, Days
from dockyard.settings import Settings

DAY0 = 1_780_000_000 // 86_400 * NS_PER_DAY
WEB = Source("shop", "web", Environment.TEST, "web-1")
BANK = Source("bank", "web", Environment.ONLINE, "bank-1")


def invoke(environ: dict[str, str], *args: str) -> str:
    env = CliEnv(environ=environ, uid=1000)
    result = CliRunner().invoke(app, ["log-retention", *args], obj=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_rules_sizes_and_the_last_drop(tmp_path: Path) -> None:
    environ = {
        "HOME": str(tmp_path),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_LOG_INDEX_ENGINE": "fts5",
        "DOCKYARD_LOG_INDEX_DAYS": "7,online=30",
        "DOCKYARD_LOG_ARCHIVE_DAYS": "90,test=14",
        "DOCKYARD_LOG_TEAM_CAP_BYTES": "shop=1M",
    }
    settings = Settings.from_env(environ, uid=1000)
    index = open_engine("fts5", settings.logs.index_dir)
    for day in range(2):
        t = DAY0 + day * NS_PER_DAY
        index.add([Batch(s, (Line(day + 1, t, "stdout", "x" * 100),)) for s in (WEB, BANK)])
    index.commit()
    retention = IndexRetention(
        index,
        Rules(Days(1), Caps()),
        report=report_file(settings),
        clock=lambda: DAY0 + NS_PER_DAY,
    )
    assert len(await retention.enforce()) == 2
    index.close()

    data = json.loads(invoke(environ, "-o", "json"))
    envs = {e["env"]: (e["index_days"], e["archive_days"]) for e in data["environments"]}
    assert envs["online"] == (30, 90) and envs["test"] == (7, 14)
    teams = {t["team"]: t for t in data["teams"]}
    assert teams["shop"]["cap_bytes"] == 1 << 20 and teams["bank"]["cap_bytes"] is None
    assert data["host"]["index_bytes"] == sum(t["index_bytes"] for t in data["teams"]) > 0
    assert data["host"]["days_held"] == 1
    assert sorted(d["env"] for d in data["last_drop"]["drops"]) == ["online", "test"]
    assert {d["reason"] for d in data["last_drop"]["drops"]} == {"expired"}

    table = invoke(environ)
    assert "ARCHIVE DAYS" in table and "1.0 MiB" in table and "(expired)" in table
