"""The index's retention part (logs/index_retention.py) on a real SQLite FTS5 index: what it
removes, what it tells the teams, and that a failure to tell never stops it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs.index.fts5 import Fts5Index
from dockyard.logs.index.partitions import NS_PER_DAY
from dockyard.logs.index_retention import IndexRetention, Rules
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.retention import Caps, Days, Drop, Notice, Part, Reason, notices

DAY0 = 1_780_000_000 // 86_400 * NS_PER_DAY
T0 = DAY0 + 3600 * 10**9
WEB = Source("shop", "web", Environment.TEST, "web-1")
API = Source("shop", "api", Environment.ONLINE, "api-1")
BANK = Source("bank", "web", Environment.TEST, "bank-1")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Fts5Index]:
    opened = Fts5Index(tmp_path / "index")
    yield opened
    opened.close()


def fill(index: Fts5Index, days: int) -> None:
    for day in range(days):
        t = T0 + day * NS_PER_DAY
        index.add(
            [
                Batch(
                    s, tuple(Line(day * 10 + i + 1, t + i, "stdout", "x" * 200) for i in range(5))
                )
                for s in (WEB, API, BANK)
            ]
        )
    index.commit()


class Told:
    def __init__(self, fail: bool = False) -> None:
        self.notices: list[Notice] = []
        self.fail = fail

    def __call__(self, notices: Sequence[Notice], at_ns: int) -> None:
        if self.fail:
            raise Unavailable("the platform database failed: gone")
        self.notices.extend(notices)


async def test_expired_partitions_go_per_environment_and_the_team_is_told(
    index: Fts5Index,
) -> None:
    fill(index, 3)
    told = Told()
    retention = IndexRetention(
        index,
        Rules(Days(1, {"online": 30})),
        on_drop=told,
        clock=lambda: T0 + 2 * NS_PER_DAY,
    )
    drops = await retention.enforce()
    assert [(d.part.env, d.team) for d in drops] == [("test", "")] * 2
    assert {p.env for p in index.partitions() if p.day < index.days()[-1]} == {"online"}
    assert sorted((n.team, n.env, n.kind) for n in told.notices) == [
        ("bank", "test", "logs_expired"),
        ("shop", "test", "logs_expired"),
    ]
    assert "test keeps them 1 days" in told.notices[0].message
    assert retention.last_drop is not None and retention.drops == 2
    assert retention.last is not None and retention.last.bytes_after == sum(
        p.bytes for p in index.partitions()
    )
    assert await retention.enforce() == ()
    assert retention.last_drop.drops == drops


async def test_a_team_over_its_cap_loses_its_oldest_lines_and_is_told(index: Fts5Index) -> None:
    fill(index, 3)
    told = Told()
    retention = IndexRetention(
        index, Rules(Days(30), Caps(teams={"shop": 1})), on_drop=told, clock=lambda: T0
    )
    drops = await retention.enforce()
    assert [(d.part.day, d.part.env, d.team) for d in drops] == [
        (day, env, "shop") for day in index.days()[:2] for env in ("online", "test")
    ]
    assert all(d.bytes > 0 for d in drops)
    assert sorted((n.team, n.env, n.kind) for n in told.notices) == [
        ("shop", "online", "logs_dropped_by_cap"),
        ("shop", "test", "logs_dropped_by_cap"),
    ]
    shares = [(p.day, p.env, dict(p.teams)) for p in index.partitions()]
    assert all("shop" not in teams for day, _, teams in shares if day != index.days()[-1])
    assert all("bank" in teams for _, env, teams in shares if env == "test")


async def test_a_failure_to_tell_is_logged_and_the_drops_stand(
    index: Fts5Index, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="dockyard.logs")
    fill(index, 2)
    retention = IndexRetention(
        index, Rules(Days(30), Caps(host=1)), on_drop=Told(fail=True), clock=lambda: T0
    )
    drops = await retention.enforce()
    assert {d.reason for d in drops} == {Reason.HOST_CAP} and len(drops) == 2
    assert len(index.days()) == 1
    assert "not recorded as events" in caplog.text
    assert "reason=host_cap" in caplog.text


async def test_a_partition_with_staged_lines_waits_for_the_next_run(index: Fts5Index) -> None:
    fill(index, 2)
    index.add([Batch(BANK, (Line(99, T0 + 5, "stdout", "late line of day 0"),))])  # staged
    retention = IndexRetention(index, Rules(Days(1)), clock=lambda: T0 + NS_PER_DAY)
    drops = await retention.enforce()
    assert [d.part.env for d in drops] == ["online"]  # day 0 of test takes the staged line
    index.commit()
    assert [d.part.env for d in await retention.enforce()] == ["test"]


def test_notices_group_days_per_team_environment_and_reason() -> None:
    def drop(day: str, env: str, team: str, reason: Reason) -> Drop:
        teams = {"shop": 6, "bank": 4}
        return Drop(Part(f"{day}_{env}", day, env, 10, teams), reason, team)

    found = notices(
        [
            drop("2026-12-02", "test", "shop", Reason.TEAM_CAP),
            drop("2026-12-01", "test", "shop", Reason.TEAM_CAP),
            drop("2026-12-01", "online", "", Reason.HOST_CAP),
            Drop(Part("2026-11-30", "2026-11-30", "", 10, {"shop": 10}), Reason.HOST_CAP),
        ],
        days=Days(7),
        caps=Caps(host=1 << 30, teams={"shop": 20 << 30}),
    )
    assert [(n.team, n.env, n.kind) for n in found] == [
        ("shop", "test", "logs_dropped_by_cap"),
        ("bank", "online", "logs_dropped_by_cap"),
        ("shop", "online", "logs_dropped_by_cap"),
    ]
    assert found[0].message.startswith("log lines of 2026-12-01, 2026-12-02 in test")
    assert "cap of 20.0 GiB" in found[0].message
    assert "this host's cap of 1.0 GiB" in found[1].message
