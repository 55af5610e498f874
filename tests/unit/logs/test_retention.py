"""Retention decisions (logs/retention.py): which partitions go given now, the rules and the
sizes, and the settings syntax of the rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.logs.retention import (
    Caps,
    Days,
    Part,
    Reason,
    archive_before,
    decide,
    oldest_kept,
    parse_caps,
    parse_days,
    parse_size,
)

NOW = int(datetime(2026, 12, 10, 12, tzinfo=UTC).timestamp()) * 1_000_000_000
G = 1 << 30


def part(day: int, env: str = "test", size: int = 10, **teams: int) -> Part:
    """Partition of 2026-12-DAY in `env`; teams' shares given, else all of it shop's."""
    return Part(
        f"2026-12-{day:02d}_{env}", f"2026-12-{day:02d}", env, size, teams or {"shop": size}
    )


def dropped(parts: list[Part], days: Days, caps: Caps) -> list[tuple[str, str, str]]:
    drops = decide(parts, now_ns=NOW, days=days, caps=caps)
    return [(d.part.name, d.team, d.reason.value) for d in drops]


@pytest.mark.parametrize(
    ("parts", "days", "caps", "expected"),
    [
        # nothing held, nothing to do
        ([], Days(7), Caps(host=0), []),
        # 3 days kept: the 10th (today), 9th and 8th stay
        ([part(7), part(8), part(10)], Days(3), Caps(), [("2026-12-07_test", "", "expired")]),
        # per environment: online keeps 30 days, test 1
        (
            [part(1, "online"), part(1), part(9), part(10)],
            Days(1, {"online": 30}),
            Caps(),
            [("2026-12-01_test", "", "expired"), ("2026-12-09_test", "", "expired")],
        ),
        # the newest day held is never touched, however old (an indexer back after a month)
        ([part(1), part(2)], Days(1), Caps(), [("2026-12-01_test", "", "expired")]),
        # a team over its cap loses its lines in its oldest partitions; others keep theirs
        (
            [part(8, size=55, shop=5, bank=50), part(9, shop=5), part(10, shop=5)],
            Days(30),
            Caps(teams={"shop": 10}),
            [("2026-12-08_test", "shop", "team_cap")],
        ),
        # the default team cap applies to every team without an override
        (
            [part(8, size=14, bank=7, shop=7), part(10, bank=7)],
            Days(30),
            Caps(team=10, teams={"shop": 100}),
            [("2026-12-08_test", "bank", "team_cap")],
        ),
        # a team cap never takes the newest day, even if still over
        ([part(10, size=50)], Days(30), Caps(team=1), []),
        # a team's oldest partition first, in whichever environment
        (
            [part(9, "online", shop=4), part(8, "test", shop=4), part(10, shop=4)],
            Days(30),
            Caps(team=9),
            [("2026-12-08_test", "shop", "team_cap")],
        ),
        # host cap: oldest partitions of all, whole, until under
        (
            [part(8, "online", 4), part(8, size=4), part(9, size=4), part(10, size=4)],
            Days(30),
            Caps(host=9),
            [("2026-12-08_online", "", "host_cap"), ("2026-12-08_test", "", "host_cap")],
        ),
        # what expiry removed already counts toward the host cap
        (
            [part(1, size=100), part(8, size=4), part(10, size=4)],
            Days(7),
            Caps(host=8),
            [("2026-12-01_test", "", "expired")],
        ),
        # a team's removed lines still take their bytes on disk: the host cap counts them
        (
            [part(8, size=10, shop=8, bank=2), part(10, size=4)],
            Days(30),
            Caps(host=10, team=5),
            [("2026-12-08_test", "shop", "team_cap"), ("2026-12-08_test", "", "host_cap")],
        ),
        # day-only partitions (an index made before) follow the default rule and the host cap
        (
            [Part("2026-12-01", "2026-12-01", "", 9, {"shop": 9}), part(10)],
            Days(30, {"online": 60}),
            Caps(host=15),
            [("2026-12-01", "", "host_cap")],
        ),
    ],
)
def test_decide(
    parts: list[Part], days: Days, caps: Caps, expected: list[tuple[str, str, str]]
) -> None:
    assert dropped(parts, days, caps) == expected


def test_oldest_kept_counts_today_as_one() -> None:
    assert oldest_kept(NOW, 1) == "2026-12-10"
    assert oldest_kept(NOW, 7) == "2026-12-04"


def test_archive_before_is_per_environment() -> None:
    days = Days(90, {"test": 7})
    now = NOW / 1e9
    assert archive_before(now, days, "test") == datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert archive_before(now, days, "online") == datetime(2026, 9, 11, 12, tzinfo=UTC)


def test_reasons_name_the_event_a_team_sees() -> None:
    assert Reason.EXPIRED.event == "logs_expired"
    assert Reason.TEAM_CAP.event == Reason.HOST_CAP.event == "logs_dropped_by_cap"


@pytest.mark.parametrize(
    ("raw", "default", "overrides"),
    [
        ("7", 7, {}),
        ("7,online=30,stable=14", 7, {"online": 30, "stable": 14}),
        (" 7 , online = 30 ", 7, {"online": 30}),
    ],
)
def test_parse_days(raw: str, default: int, overrides: dict[str, int]) -> None:
    parsed = parse_days(raw, most=3650)
    assert (parsed.default, dict(parsed.overrides)) == (default, overrides)
    assert parse_days(parsed.describe(), most=3650) == parsed


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("", "the default comes first"),
        ("0", "from 1 to 3650"),
        ("online=30", "the default comes first"),
        ("7,prod=30", "unknown environment 'prod'"),
        ("7,online=x", "'x' is not a number"),
        ("7,online=3,online=4", "does not fit"),
        ("7,8", "does not fit"),
    ],
)
def test_parse_days_says_what_to_write(raw: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_days(raw, most=3650)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10G", (10 * G, {})),
        ("10G,shop=20G", (10 * G, {"shop": 20 * G})),
        ("shop=512M", (None, {"shop": 512 << 20})),
        ("1048576", (1 << 20, {})),
    ],
)
def test_parse_caps(raw: str, expected: tuple[int | None, dict[str, int]]) -> None:
    assert parse_caps(raw) == expected


@pytest.mark.parametrize("raw", ["10X", "0", "-1G", "Shop=1G", "1G,shop"])
def test_parse_caps_refuses_what_it_cannot_read(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_caps(raw)


def test_sizes_take_binary_units() -> None:
    assert [parse_size(s) for s in ("1K", "1m", "2GiB", "1T")] == [1024, 1 << 20, 2 * G, 1 << 40]
