"""The log center's per-service figures: each process's counters as a report, and the reports
of many processes merged into one service's stats."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs.counters import LossEvent, ShipperCounters
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.stats import (
    AGENT,
    ARCHIVER,
    INDEXER,
    Loss,
    Report,
    Row,
    Tally,
    agent_report,
    consumer_report,
    fresh_lines,
    merge,
    split_key,
)
from dockyard.logs.stats_board import MemoryStatsBoard, Reporter

S = 1_000_000_000
NOW = 1_000 * S


def row(instance: str, service: str = "web", **counts: Any) -> Row:
    return Row("alpha", service, "test", instance, **counts)


def batch(instance: str, first: int, last: int, *, t: int = 0) -> Batch:
    source = Source("alpha", "web", Environment.TEST, instance)
    return Batch(
        source, tuple(Line(n, t + n, "stdout", f"line {n}") for n in range(first, last + 1))
    )


def test_the_agent_reports_its_sources_summed_per_instance_with_their_losses() -> None:
    counters = ShipperCounters()
    console = counters.of("alpha/web/test/web-1/console")
    console.lines_read, console.lines_sent, console.dropped_rate = 10, 8, 2
    console.add_loss(LossEvent(5 * S, "web-1.log.1 rotated away", 300))
    declared = counters.of("alpha/web/test/web-1//app/logs/a.log")
    declared.lines_read, declared.lines_sent = 5, 5
    counters.of("alpha/api/test/api-1/console").lines_read = 3
    counters.stream_waiting = 2

    report = agent_report(counters, host="h1", now_ns=NOW)

    by = {(r.service, r.instance): r for r in report.rows}
    assert by["web", "web-1"].read == 15 and by["web", "web-1"].sent == 13
    assert by["web", "web-1"].dropped == 2
    assert by["web", "web-1"].lost == 1 and by["web", "web-1"].lost_bytes == 300
    assert by["web", "web-1"].losses == (Loss(5 * S, "web-1.log.1 rotated away", 300),)
    assert by["api", "api-1"].read == 3
    assert (report.role, report.host, report.stream_waiting) == (AGENT, "h1", 2)


def test_a_source_key_with_a_path_splits_into_its_instance() -> None:
    assert split_key("alpha/web/test/web-1//app/logs/a.log") == ("alpha", "web", "test", "web-1")


@pytest.mark.parametrize(
    ("held", "batches", "expected"),
    [
        ({}, [("a", 1, 3)], {"a": 3}),
        ({"a": 2}, [("a", 1, 3)], {"a": 1}),  # 1 and 2 are held: duplicates
        ({"a": 5}, [("a", 1, 3)], {}),
        ({}, [("a", 1, 3), ("a", 2, 5), ("b", 1, 1)], {"a": 5, "b": 1}),
    ],
)
def test_fresh_lines_are_those_above_what_the_index_holds(
    held: dict[str, int], batches: list[tuple[str, int, int]], expected: dict[str, int]
) -> None:
    made = [batch(i, first, last) for i, first, last in batches]
    keys = {b.source.instance: b.source.key for b in made}
    found = fresh_lines(made, held=lambda key: held.get(key.split("/")[3], 0))
    assert {k.split("/")[3]: t.lines for k, t in found.items()} == expected
    for name in expected:
        assert found[keys[name]].newest_ns == max(
            b.lines[-1].time_ns for b in made if b.source.instance == name
        )


def test_consumers_report_what_they_wrote_and_the_lag_of_each_service() -> None:
    tallies = {
        "alpha/web/test/web-1/console": Tally(lines=7, newest_ns=NOW - 3 * S),
        "alpha/web/test/web-2/console": Tally(lines=2, newest_ns=NOW - 9 * S),
    }
    index = consumer_report(INDEXER, tallies, host="h", now_ns=NOW)
    archive = consumer_report(ARCHIVER, tallies, host="h", now_ns=NOW)
    assert sorted((r.instance, r.indexed, r.archived) for r in index.rows) == [
        ("web-1", 7, 0),
        ("web-2", 2, 0),
    ]
    assert sorted(r.archived for r in archive.rows) == [2, 7]
    assert index.lag_s("alpha", "web", "test") == pytest.approx(3.0)
    assert index.lag_s("alpha", "api", "test") is None


def test_merge_sums_instances_over_processes_and_keeps_the_worst_lag() -> None:
    reports = [
        Report(AGENT, "h1", NOW, (row("web-1", read=10, sent=10),), stream_waiting=1),
        Report(
            AGENT,
            "h2",
            NOW,
            (
                row(
                    "web-2",
                    read=5,
                    sent=4,
                    lost=1,
                    lost_bytes=9,
                    losses=(Loss(NOW - S, "gone", 9),),
                ),
            ),
        ),
        Report(AGENT, "h3", NOW, (row("api-1", service="api", read=99),), stream_waiting=7),
        Report(
            INDEXER,
            "h1",
            NOW,
            (
                row("web-1", indexed=10, newest_ns=NOW - 2 * S),
                row("web-2", indexed=4, newest_ns=NOW - 1 * S),
            ),
        ),
        Report(INDEXER, "h9", NOW, (row("web-1", indexed=0, newest_ns=NOW - 6 * S),)),
        Report(ARCHIVER, "h1", NOW, (row("web-1", archived=3, newest_ns=NOW - 60 * S),)),
    ]
    stats = merge(reports, team="alpha", service="web", env="test", now_ns=NOW)

    assert [
        (i.instance, i.read, i.sent, i.indexed, i.archived, i.lost) for i in stats.instances
    ] == [
        ("web-1", 10, 10, 10, 3, 0),
        ("web-2", 5, 4, 4, 0, 1),
    ]
    assert (stats.total.read, stats.total.indexed, stats.total.lost_bytes) == (15, 14, 9)
    assert stats.total.losses == (Loss(NOW - S, "gone", 9),)
    assert stats.indexer_lag_s == pytest.approx(6.0) and stats.archiver_lag_s == pytest.approx(60)
    assert stats.stream_waiting == 1  # h3's waiting sources are not this service's hosts


def test_merge_leaves_out_reports_of_processes_gone_quiet() -> None:
    old = Report(AGENT, "h1", NOW - 3600 * S, (row("web-1", read=10),))
    stats = merge([old], team="alpha", service="web", env="test", now_ns=NOW)
    assert stats.instances == () and stats.reported_ns == 0 and stats.indexer_lag_s is None


def test_a_report_survives_encoding() -> None:
    report = Report(AGENT, "h1", NOW, (row("web-1", read=3, losses=(Loss(1, "x", None),)),))
    assert Report.decode(report.encode()) == report


class Refusing:
    """A stats board that cannot be reached."""

    def __init__(self) -> None:
        self.tries = 0

    async def put(self, report: Report) -> None:
        self.tries += 1
        raise Unavailable("the log stats board cannot be reached now")

    async def reports(self, team: str, service: str, env: str) -> list[Report]:
        raise Unavailable("no")

    async def close(self) -> None:
        pass


async def test_a_reporter_keeps_its_latest_report_and_puts_it_on_the_board() -> None:
    board = MemoryStatsBoard()
    counters = ShipperCounters()
    counters.of("alpha/web/test/web-1/console").lines_read = 4
    reporter = Reporter(lambda now: agent_report(counters, host="h1", now_ns=now), board,
                        now_ns=lambda: NOW)  # fmt: skip
    await reporter.once()
    assert reporter.latest is not None and reporter.latest.rows[0].read == 4
    assert [r.rows[0].read for r in await board.reports("alpha", "web", "test")] == [4]


async def test_a_board_out_of_reach_is_logged_once_and_tried_at_each_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = Refusing()
    reporter = Reporter(lambda now: Report(AGENT, "h1", now), board, now_ns=lambda: NOW)
    for _ in range(3):
        await reporter.once()
    assert board.tries == 3 and reporter.latest is not None  # metrics go on meanwhile
    assert [r.getMessage() for r in caplog.records].count(
        "log stats not published: the log stats board cannot be reached now"
    ) == 1
