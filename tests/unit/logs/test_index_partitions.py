"""Day partitions of the log index, by table: which days a search reads and in what order,
which days retention and the size cap remove."""

from __future__ import annotations

import pytest

from dockyard.logs.index.base import Filters, Order
from dockyard.logs.index.partitions import (
    NS_PER_DAY,
    day_of,
    day_start_ns,
    days_held,
    expired,
    oldest_kept,
    over_cap,
    part_of,
    visit,
)

DAYS = ("2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04")
D2 = day_start_ns("2026-12-02")
D3 = day_start_ns("2026-12-03")

VISITS = [
    ("newest first reads the newest day first", Filters(), None, Order.NEWEST, DAYS[::-1]),
    ("oldest first reads the oldest day first", Filters(), None, Order.OLDEST, DAYS),
    ("since skips older days", Filters(since_ns=D3 + 5), None, Order.OLDEST, DAYS[2:]),
    ("since at midnight keeps that day", Filters(since_ns=D3), None, Order.OLDEST, DAYS[2:]),
    ("until is exclusive at midnight", Filters(until_ns=D3), None, Order.OLDEST, DAYS[:2]),
    ("until inside a day keeps it", Filters(until_ns=D3 + 1), None, Order.OLDEST, DAYS[:3]),
    ("a range of one day", Filters(since_ns=D2, until_ns=D3), None, Order.NEWEST, DAYS[1:2]),
    (
        "newest cursor skips newer days",
        Filters(),
        (D2 + 7, "i", "c", 1),
        Order.NEWEST,
        ("2026-12-02", "2026-12-01"),
    ),
    ("oldest cursor skips older days", Filters(), (D3 + 7, "i", "c", 1), Order.OLDEST, DAYS[2:]),
    (
        "cursor and range together",
        Filters(since_ns=D2),
        (D3 + 7, "i", "c", 1),
        Order.NEWEST,
        ("2026-12-03", "2026-12-02"),
    ),
]


@pytest.mark.parametrize(
    ("name", "filters", "after", "order", "expected"), VISITS, ids=[v[0] for v in VISITS]
)
def test_visit(
    name: str,
    filters: Filters,
    after: tuple[int, str, str, int] | None,
    order: Order,
    expected: tuple[str, ...],
) -> None:
    assert tuple(visit(DAYS, filters, after, order)) == expected


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("2026-12-01", []),
        ("2026-12-03", ["2026-12-01", "2026-12-02"]),
        ("2027-01-01", ["2026-12-01", "2026-12-02", "2026-12-03"]),  # never the newest
    ],
)
def test_expired(before: str, expected: list[str]) -> None:
    assert expired(DAYS, before) == expected


SIZES = [("2026-12-01", 100), ("2026-12-02", 200), ("2026-12-03", 300), ("2026-12-04", 400)]


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        (1000, []),
        (999, ["2026-12-01"]),
        (700, ["2026-12-01", "2026-12-02"]),
        (0, ["2026-12-01", "2026-12-02", "2026-12-03"]),  # the newest stays whatever its size
    ],
)
def test_over_cap_drops_oldest_first(cap: int, expected: list[str]) -> None:
    assert over_cap(SIZES, cap) == expected


def test_days_are_utc() -> None:
    assert day_of(D3) == "2026-12-03"
    assert day_of(D3 - 1) == "2026-12-02"
    assert day_start_ns("2026-12-03") == D3


def test_retention_keeps_today_and_the_days_before() -> None:
    now = D3 + 5
    assert oldest_kept(now, 1) == "2026-12-03"
    assert oldest_kept(now, 2) == "2026-12-02"
    assert oldest_kept(now + NS_PER_DAY, 2) == "2026-12-03"


def test_days_held_are_those_of_the_team_and_environment() -> None:
    parts = [
        part_of("2026-12-01_online", 10, {"shop": 1}),
        part_of("2026-12-02_test", 10, {"bank": 1}),
        part_of("2026-12-03_test", 10, {"shop": 1, "bank": 3}),
        part_of("2026-12-04_test", 10, {"shop": 1}),
    ]
    assert days_held(parts, team="shop", env="test") == ("2026-12-03", "2026-12-04")
    assert days_held(parts, team="shop", env=None)[0] == "2026-12-01"
    assert days_held(parts, team=None, env="test")[0] == "2026-12-02"
    legacy = part_of("2026-11-30", 5, {"shop": 1})
    assert days_held([*parts, legacy], team="shop", env="test")[0] == "2026-11-30"


def test_a_partition_is_shared_among_teams_by_their_lines() -> None:
    part = part_of("2026-12-03_test", 1000, {"shop": 3, "bank": 1, "gone": 0})
    assert (part.day, part.env, dict(part.teams)) == (
        "2026-12-03",
        "test",
        {"shop": 750, "bank": 250},
    )
    assert part_of("2026-12-03").env == ""  # a day-only partition
