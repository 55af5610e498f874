"""The LogIndex contract (logs/index/base.py), held against every engine: SQLite FTS5 and
tantivy. Writers killed with SIGKILL and readers in another process are real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.logs.index import ENGINES, Filters, LogIndex, Order, open_engine
from dockyard.logs.index.partitions import NS_PER_DAY, days_of
from dockyard.logs.query import parse
from dockyard.logs.record import Batch, Line, Source
from dockyard.logs.retention import Caps, Days, Reason, decide

DAY0 = 1_780_000_000 // 86_400 * NS_PER_DAY  # a UTC midnight
T0 = DAY0 + 3600 * 10**9
SEC = 10**9
WEB1 = Source("shop", "web", Environment.TEST, "web-1")
WEB2 = Source("shop", "web", Environment.TEST, "web-2")
DB1 = Source("shop", "db", Environment.ONLINE, "db-1")
BANK = Source("bank", "web", Environment.TEST, "bank-1")


def batch(
    source: Source,
    first: int,
    texts: list[str],
    *,
    t: int = T0,
    step: int = SEC,
    stream: str = "stdout",
) -> Batch:
    lines = tuple(Line(first + i, t + i * step, stream, text) for i, text in enumerate(texts))
    return Batch(source, lines)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def index(engine: str, tmp_path: Path) -> Iterator[LogIndex]:
    opened = open_engine(engine, tmp_path / "index")
    yield opened
    opened.close()


ALL = Filters()


def texts(
    index: LogIndex, filters: Filters = ALL, q: str = "", order: Order = Order.NEWEST
) -> list[str]:
    return [h.text for h in index.search(filters, parse(q), limit=1000, order=order).hits]


def test_lines_are_searchable_only_after_commit(index: LogIndex) -> None:
    index.add([batch(WEB1, 1, ["hello world"])])
    assert texts(index, q="hello") == []
    index.commit()
    assert texts(index, q="hello") == ["hello world"]


def test_add_skips_lines_the_index_holds_even_when_cut_elsewhere(index: LogIndex) -> None:
    first = index.add([batch(WEB1, 1, ["a1", "a2", "a3"])])
    index.commit()
    again = index.add([batch(WEB1, 2, ["a2", "a3", "a4", "a5"])])
    index.commit()
    assert (first.lines, first.duplicates) == (3, 0)
    assert (again.lines, again.duplicates) == (2, 2)
    assert index.count(Filters(), parse("")) == 5


def test_a_batch_redelivered_in_the_same_commit_is_skipped(index: LogIndex) -> None:
    added = index.add([batch(WEB1, 1, ["x1", "x2"]), batch(WEB1, 1, ["x1", "x2"])])
    index.commit()
    assert (added.lines, added.duplicates) == (2, 2)


def test_rollback_forgets_staged_lines_so_they_can_be_added_again(index: LogIndex) -> None:
    index.add([batch(WEB1, 1, ["kept"])])
    index.commit()
    index.add([batch(WEB1, 2, ["dropped"])])
    index.rollback()
    assert index.add([batch(WEB1, 2, ["dropped"])]).lines == 1
    index.commit()
    assert sorted(texts(index)) == ["dropped", "kept"]


def test_marks_survive_reopening(engine: str, tmp_path: Path) -> None:
    first = open_engine(engine, tmp_path / "i")
    first.add([batch(WEB1, 1, ["one", "two"])])
    first.commit()
    first.close()
    second = open_engine(engine, tmp_path / "i")
    try:
        assert second.add([batch(WEB1, 1, ["one", "two", "three"])]).lines == 1
    finally:
        second.close()


WRITER = """
import os, signal, sys
from pathlib import Path
from dockyard.domain.environment import Environment
from dockyard.logs.index import open_engine
from dockyard.logs.record import Batch, Line, Source
source = Source("shop", "web", Environment.TEST, "web-1")
index = open_engine(sys.argv[1], Path(sys.argv[2]))
t0 = int(sys.argv[3])
def lines(first, n):
    numbers = range(first, first + n)
    return Batch(source, tuple(Line(s, t0 + s, "stdout", f"line n{s}") for s in numbers))
index.add([lines(1, 100)])
index.commit()
index.add([lines(101, 100)])
print("committed", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_leaves_what_it_committed_and_readers_elsewhere_saw_it(
    engine: str, tmp_path: Path
) -> None:
    root = tmp_path / "i"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), engine, str(root), str(T0)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "committed"
        reader = open_engine(engine, root)  # another process reads while the writer lives
        assert reader.count(Filters(), parse("")) == 100
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == -signal.SIGKILL
        reader.close()
    finally:
        child.kill()
        child.wait(timeout=30)
    after = open_engine(engine, root)
    try:
        assert after.count(Filters(), parse("")) == 100
        redelivered = Batch(
            WEB1, tuple(Line(s, T0 + s, "stdout", f"line n{s}") for s in range(51, 201))
        )
        added = after.add([redelivered])
        after.commit()
        assert (added.lines, added.duplicates) == (100, 50)
        assert after.count(Filters(), parse("")) == 200
        assert after.count(Filters(), parse("n150")) == 1
    finally:
        after.close()


@pytest.fixture
def filled(index: LogIndex) -> LogIndex:
    index.add(
        [
            batch(WEB1, 1, ["GET /health 200", "ERROR db timeout", "connection reset by peer"]),
            batch(WEB2, 1, ["GET /orders 200", "WARN slow db query"], t=T0 + SEC // 2),
            batch(WEB2, 3, ["panic: connection reset"], t=T0 + 5 * SEC, stream="stderr"),
            batch(DB1, 1, ['{"level":"error","msg":"disk full"}'], t=T0 + 7 * SEC),
            batch(BANK, 1, ["ERROR db timeout at the bank"], t=T0 + 8 * SEC),
        ]
    )
    index.commit()
    return index


QUERIES = [
    ("word", Filters(team="shop"), "timeout", ["ERROR db timeout"]),
    ("words are all needed", Filters(team="shop"), "db slow", ["WARN slow db query"]),
    (
        "phrase",
        Filters(team="shop"),
        '"connection reset"',
        ["panic: connection reset", "connection reset by peer"],
    ),
    ("phrase in order only", Filters(team="shop"), '"reset connection"', []),
    ("exclusion", Filters(team="shop"), "db -timeout", ["WARN slow db query"]),
    ("excluded phrase", Filters(team="shop"), 'get -"orders 200"', ["GET /health 200"]),
    (
        "only an exclusion",
        Filters(service="web"),
        "-get -db",
        ["panic: connection reset", "connection reset by peer"],
    ),
    (
        "level from words",
        Filters(team="shop"),
        "level:error",
        ['{"level":"error","msg":"disk full"}', "ERROR db timeout"],
    ),
    (
        "level from json",
        Filters(service="db"),
        "level:error",
        ['{"level":"error","msg":"disk full"}'],
    ),
    ("level in filters", Filters(team="shop", levels=("warn",)), "", ["WARN slow db query"]),
    ("stream in query", Filters(team="shop"), "stream:stderr", ["panic: connection reset"]),
    ("stream in filters", Filters(streams=("stderr",)), "reset", ["panic: connection reset"]),
    ("team sees only its own", Filters(team="bank"), "timeout", ["ERROR db timeout at the bank"]),
    ("admin sees all", Filters(), "timeout", ["ERROR db timeout at the bank", "ERROR db timeout"]),
    ("service", Filters(team="shop", service="db"), "", ['{"level":"error","msg":"disk full"}']),
    ("env", Filters(env="online"), "", ['{"level":"error","msg":"disk full"}']),
    ("instances", Filters(instances=("web-2",)), "200", ["GET /orders 200"]),
    ("unknown service", Filters(service="nope"), "", []),
    (
        "since is inclusive",
        Filters(team="shop", since_ns=T0 + 5 * SEC),
        "",
        ['{"level":"error","msg":"disk full"}', "panic: connection reset"],
    ),
    (
        "until is exclusive",
        Filters(team="shop", until_ns=T0 + SEC),
        "",
        ["GET /orders 200", "GET /health 200"],
    ),
    ("case does not matter", Filters(team="shop"), "CONNECTION Peer", ["connection reset by peer"]),
]


@pytest.mark.parametrize(("name", "filters", "q", "expected"), QUERIES, ids=[c[0] for c in QUERIES])
def test_search(filled: LogIndex, name: str, filters: Filters, q: str, expected: list[str]) -> None:
    assert texts(filled, filters, q) == expected
    assert filled.count(filters, parse(q)) == len(expected)


def test_hits_carry_where_they_came_from(filled: LogIndex) -> None:
    [hit] = filled.search(Filters(team="shop"), parse("panic")).hits
    assert (hit.team, hit.service, hit.env, hit.instance, hit.channel) == (
        "shop",
        "web",
        "test",
        "web-2",
        "console",
    )
    assert (hit.stream, hit.seq, hit.time_ns, hit.level) == ("stderr", 3, T0 + 5 * SEC, "")


def test_merged_view_orders_by_time_then_instance_then_seq(index: LogIndex) -> None:
    index.add(
        [
            batch(WEB2, 1, ["b1", "b2"], step=0),  # the same nanosecond
            batch(WEB1, 1, ["a1", "a2", "a3"], step=0),
            batch(WEB1, 4, ["a4"], t=T0 - SEC),
        ]
    )
    index.commit()
    merged = ["a4", "a1", "a2", "a3", "b1", "b2"]
    assert texts(index, Filters(service="web"), order=Order.OLDEST) == merged
    assert texts(index, Filters(service="web"), order=Order.NEWEST) == merged[::-1]


@pytest.mark.parametrize("order", list(Order))
def test_pages_hold_every_line_once_even_with_ties_and_new_lines(
    index: LogIndex, order: Order
) -> None:
    for n, source in enumerate([WEB1, WEB2, DB1]):
        index.add(
            [
                batch(
                    source,
                    1,
                    [f"{source.instance} l{i}" for i in range(40)],
                    t=T0 - NS_PER_DAY,
                    step=SEC if n else 0,
                )
            ]
        )
        index.add(
            [batch(source, 41, [f"{source.instance} m{i}" for i in range(40)], step=SEC // 3)]
        )
    index.commit()
    seen: list[tuple[int, str, str, int]] = []
    cursor: str | None = None
    for page_number in range(100):
        page = index.search(Filters(team="shop"), parse(""), cursor=cursor, order=order, limit=7)
        seen.extend(h.key for h in page.hits)
        if page_number == 2:  # lines arriving meanwhile do not disturb the pages
            index.add([batch(WEB1, 81, ["late"], t=T0 + 1000 * SEC)])
            index.commit()
        cursor = page.next_cursor
        if cursor is None:
            break
    keys = [k for k in seen if k[3] <= 80]
    assert len(keys) == len(set(keys)) == 240
    assert keys == sorted(keys, reverse=order is Order.NEWEST)


def test_context_is_the_lines_around_one_line_of_one_source(index: LogIndex) -> None:
    index.add([batch(WEB1, 1, [f"w{i}" for i in range(1, 31)]), batch(WEB2, 1, ["other"])])
    index.commit()
    around = index.context(instance="web-1", channel="console", seq=10, n=3)
    assert [h.text for h in around] == ["w7", "w8", "w9", "w10", "w11", "w12", "w13"]
    assert [h.seq for h in index.context(instance="web-1", channel="console", seq=1, n=2)] == [
        1,
        2,
        3,
    ]
    assert index.context(instance="web-1", channel="console", seq=99, n=2) == ()


def test_context_spans_day_partitions(index: LogIndex) -> None:
    index.add([batch(WEB1, 1, ["late evening", "just before", "just after"], t=DAY0 - 2 * SEC)])
    index.commit()
    assert len(index.days()) == 2
    around = index.context(instance="web-1", channel="console", seq=2, n=1)
    assert [h.text for h in around] == ["late evening", "just before", "just after"]


def test_partitions_are_utc_days_and_retention_drops_whole_old_ones(index: LogIndex) -> None:
    for day in range(4):
        index.add([batch(WEB1, day * 10 + 1, [f"day{day}"], t=T0 + day * NS_PER_DAY)])
    index.commit()
    days = index.days()
    assert len(days) == 4 and list(days) == sorted(days)
    assert days_of(index.drop_before(days[2])) == days[:2]
    assert texts(index, order=Order.OLDEST) == ["day2", "day3"]
    assert days_of(index.drop_before("9999-01-01")) == days[2:3]  # never the newest
    assert texts(index) == ["day3"]


def test_size_cap_drops_oldest_partitions_first(index: LogIndex) -> None:
    for day in range(3):
        index.add(
            [
                batch(
                    WEB1,
                    day * 100 + 1,
                    [f"d{day} x{i}" for i in range(50)],
                    t=T0 + day * NS_PER_DAY,
                )
            ]
        )
    index.commit()
    index.close()  # settle files (a WAL checkpoint) before measuring
    total = index.size_bytes()
    assert total > 0
    newest = index.days()[-1]
    assert index.cap(total) == ()
    dropped = index.cap(1)
    assert newest not in days_of(dropped) and len(dropped) == 2
    assert index.days() == (newest,)
    assert index.size_bytes() < total


def _spread(index: LogIndex, days: int) -> None:
    """Lines of shop/test, shop/online and bank/test on each of `days` days."""
    for day in range(days):
        t = T0 + day * NS_PER_DAY
        index.add(
            [
                batch(WEB1, day * 100 + 1, [f"web d{day} x{i}" for i in range(40)], t=t),
                batch(DB1, day * 100 + 1, [f"db d{day} x{i}" for i in range(40)], t=t),
                batch(BANK, day * 100 + 1, [f"bank d{day} x{i}" for i in range(40)], t=t),
            ]
        )
    index.commit()


def test_partitions_are_one_per_day_and_environment_shared_by_teams(index: LogIndex) -> None:
    _spread(index, 2)
    parts = index.partitions()
    assert [(p.env, sorted(p.teams)) for p in parts] == [
        ("online", ["shop"]), ("test", ["bank", "shop"]),
    ] * 2  # fmt: skip
    assert all(0 < sum(p.teams.values()) <= p.bytes for p in parts)
    test = parts[1]
    assert test.teams["bank"] == pytest.approx(test.teams["shop"], rel=0.01)  # 40 lines each
    assert len(index.days()) == 2


def test_an_environments_retention_drops_only_its_partitions(index: LogIndex) -> None:
    _spread(index, 3)
    now = T0 + 2 * NS_PER_DAY
    drops = decide(index.partitions(), now_ns=now, days=Days(3, {"online": 1}), caps=Caps())
    assert {(d.part.env, d.reason) for d in drops} == {("online", Reason.EXPIRED)}
    dropped = index.drop([d.part.name for d in drops])
    assert len(dropped) == 2
    assert texts(index, Filters(env="online"), order=Order.OLDEST)[0] == "db d2 x0"
    assert len(texts(index, Filters(env="test"))) == 3 * 2 * 40
    assert index.held(DB1.key) == 240  # the newest day's lines still count as held


def test_a_team_over_its_cap_loses_its_oldest_lines_and_others_keep_theirs(
    index: LogIndex,
) -> None:
    _spread(index, 3)
    parts = index.partitions()
    shop = sum(p.teams["shop"] for p in parts)
    caps = Caps(teams={"shop": shop - 1})
    drops = decide(parts, now_ns=T0 + 2 * NS_PER_DAY, days=Days(30), caps=caps)
    assert [(d.part.day, d.part.env, d.team, d.reason) for d in drops] == [
        (index.days()[0], "online", "shop", Reason.TEAM_CAP)
    ]
    assert index.drop_team(drops[0].part.name, "shop")
    assert len(texts(index, Filters(team="shop"))) == 5 * 40
    first_test = next(p.name for p in parts if p.env == "test")
    assert index.drop_team(first_test, "shop")
    assert len(texts(index, Filters(team="shop"))) == 4 * 40
    assert len(texts(index, Filters(team="bank"))) == 3 * 40  # the same partitions, kept
    assert len(texts(index, q="d0")) == 40 and texts(index, q="d0")[0].startswith("bank")
    after = {p.name: p for p in index.partitions()}
    assert "shop" not in after[first_test].teams and after[first_test].teams["bank"] > 0
    assert sum(p.teams.get("shop", 0) for p in after.values()) < shop
    index.add([batch(WEB1, 1, ["web d0 x0 again"])])  # delivered again: still held
    index.add([batch(WEB1, 301, ["after the drop"], t=T0 + 2 * NS_PER_DAY + SEC)])
    index.commit()
    assert texts(index, q="again") == []
    assert texts(index, q="after") == ["after the drop"]


def test_a_drop_keeps_a_partition_holding_staged_lines(index: LogIndex) -> None:
    _spread(index, 2)
    index.add([batch(BANK, 500, ["late line of day 0"], t=T0 + SEC)])  # staged, not committed
    first_day = [p.name for p in index.partitions() if p.day == index.days()[0]]
    assert not index.drop_team(first_day[1], "shop")  # the test partition takes bank's line
    dropped = index.drop(first_day)
    assert dropped == (first_day[0],)
    index.commit()
    assert texts(index, q="late") == ["late line of day 0"]
    assert index.held(BANK.key) == 500


def test_a_search_of_one_environment_merges_its_teams_in_time_order(index: LogIndex) -> None:
    _spread(index, 1)
    hits = index.search(Filters(env="test"), parse(""), order=Order.OLDEST, limit=1000).hits
    assert len(hits) == 80 and [h.key for h in hits] == sorted(h.key for h in hits)


def test_cursor_and_limit_are_checked(filled: LogIndex) -> None:
    page = filled.search(Filters(), parse(""), limit=2)
    assert page.next_cursor is not None
    with pytest.raises(Invalid, match="cursor"):
        filled.search(Filters(), parse(""), cursor="not-a-cursor")
    with pytest.raises(Invalid, match="newest-first"):
        filled.search(Filters(), parse(""), cursor=page.next_cursor, order=Order.OLDEST)
    with pytest.raises(Invalid, match="limit"):
        filled.search(Filters(), parse(""), limit=0)
    with pytest.raises(Invalid, match="context"):
        filled.context(instance="web-1", channel="console", seq=1, n=-1)


def test_last_page_has_no_cursor(filled: LogIndex) -> None:
    assert filled.search(Filters(team="bank"), parse(""), limit=5).next_cursor is None


def test_a_line_is_searchable_at_once_after_commit_from_another_handle(
    engine: str, tmp_path: Path
) -> None:
    writer = open_engine(engine, tmp_path / "i")
    reader = open_engine(engine, tmp_path / "i")
    try:
        for n in range(1, 6):
            writer.add([batch(WEB1, n, [f"tick{n}"], t=T0 + n)])
            started = time.monotonic()
            writer.commit()
            assert texts(reader, q=f"tick{n}") == [f"tick{n}"]
            assert time.monotonic() - started < 2
    finally:
        writer.close()
        reader.close()
    assert os.path.isdir(tmp_path / "i")


def test_held_is_the_highest_number_staged_or_committed_per_source(index: LogIndex) -> None:
    assert index.held(WEB1.key) == 0
    index.add([batch(WEB1, 1, ["a", "b", "c"])])
    assert index.held(WEB1.key) == 3 and index.held(WEB2.key) == 0
    index.commit()
    index.add([batch(WEB1, 4, ["d"])])
    assert index.held(WEB1.key) == 4
    index.rollback()
    assert index.held(WEB1.key) == 3
