"""The log center's read side: live lines judged as the index judges them, a live tail that
starts with the last lines and follows the service (no line twice, none missed in between),
and downloads that read the archive for days the index has dropped."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs.archive import Archive, HourFile, encode_record, hour_of
from dockyard.logs.center import Dropped, LogCenter, in_filters, matches, subject_of
from dockyard.logs.index import Filters, Hit, LogIndex, open_engine
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.query import parse
from dockyard.logs.record import Batch, Line, Source

T0 = 1_780_000_000 * 10**9
NOW_S = T0 / 1e9 + 100
WEB1 = Source("shop", "web", Environment.TEST, "web-1")
WEB2 = Source("shop", "web", Environment.TEST, "web-2")
API1 = Source("shop", "api", Environment.TEST, "api-1")


def hit(text: str, *, level: str = "", stream: str = "stdout", instance: str = "web-1") -> Hit:
    return Hit("shop", "web", "test", instance, "console", stream, 1, T0, level, text)


@pytest.mark.parametrize(
    ("query", "line", "expected"),
    [
        ("timeout", hit("db timeout after 3s"), True),
        ("timeout", hit("db Timeout!"), True),
        ("timeout", hit("timeouts everywhere"), False),
        ('"connection refused"', hit("dial: connection refused (port 5432)"), True),
        ('"connection refused"', hit("refused connection"), False),
        ("db -retry", hit("db down, will retry"), False),
        ("db -retry", hit("db down"), True),
        ('-"will retry"', hit("will not retry"), True),
        ("level:error", hit("x", level="error"), True),
        ("level:error", hit("x", level="warn"), False),
        ("stream:stderr boom", hit("boom", stream="stderr"), True),
        ("stream:stderr boom", hit("boom"), False),
        ("", hit("anything"), True),
    ],
)
def test_a_live_line_matches_a_query_as_the_index_would(
    query: str, line: Hit, expected: bool
) -> None:
    assert matches(parse(query), line) is expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(team="shop", service="web", env="test"), True),
        (Filters(team="bank"), False),
        (Filters(service="api"), False),
        (Filters(env="online"), False),
        (Filters(instances=("web-2",)), False),
        (Filters(instances=("web-2", "web-1")), True),
        (Filters(since_ns=T0), True),
        (Filters(since_ns=T0 + 1), False),
        (Filters(until_ns=T0), False),
        (Filters(until_ns=T0 + 1), True),
    ],
)
def test_a_live_line_is_inside_filters_as_the_index_would_judge(
    filters: Filters, expected: bool
) -> None:
    assert in_filters(filters, hit("x")) is expected


@pytest.mark.parametrize(
    ("filters", "subject"),
    [
        (Filters(team="shop", service="web", env="test"), "dockyard.logs.shop.web.test.*"),
        (
            Filters(team="shop", service="web", env="test", instances=("a",)),
            "dockyard.logs.shop.web.test.a",
        ),
        (
            Filters(team="shop", service="web", env="test", instances=("a", "b")),
            "dockyard.logs.shop.web.test.*",
        ),
        (Filters(), "dockyard.logs.*.*.*.*"),
    ],
)
def test_a_tail_asks_the_stream_for_the_narrowest_subject(filters: Filters, subject: str) -> None:
    assert subject_of(filters) == subject


def lines(source: Source, first: int, n: int, *, t: int = T0, text: str = "line") -> Batch:
    return Batch(
        source, tuple(Line(s, t + s, "stdout", f"{text} n{s}") for s in range(first, first + n))
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = open_engine("fts5", tmp_path / "index")
    yield opened
    opened.close()


def center(index: LogIndex, stream: MemoryLogStream, archive: Archive | None = None) -> LogCenter:
    return LogCenter(index, stream=stream, archive=archive, index_days=7, clock=lambda: NOW_S)


WEB = Filters(team="shop", service="web", env="test")


async def take(follower: object, n: int) -> list[Hit | Dropped]:
    got: list[Hit | Dropped] = []
    async for item in follower:  # type: ignore[attr-defined]
        got.append(item)
        if len(got) == n:
            break
    return got


async def test_a_tail_starts_with_the_last_lines_then_follows_new_instances(
    index: LogIndex,
) -> None:
    stream = MemoryLogStream()
    for batch in (lines(WEB1, 1, 5), lines(API1, 1, 3)):
        index.add([batch])
        await stream.publish(batch)
    index.commit()
    follower = center(index, stream).follow(WEB, "", tail=3)
    first = await take(follower, 3)
    assert [(h.instance, h.seq) for h in first if isinstance(h, Hit)] == [
        ("web-1", 3),
        ("web-1", 4),
        ("web-1", 5),
    ]
    # A line published but not yet indexed when the tail began, then a new instance's lines.
    await stream.publish(lines(WEB1, 6, 1))
    await stream.publish(lines(WEB2, 1, 2, t=T0 + 50))
    await stream.publish(lines(API1, 4, 1))
    rest = await asyncio.wait_for(take(follower, 3), 5)
    assert [(h.instance, h.seq) for h in rest if isinstance(h, Hit)] == [
        ("web-1", 6),
        ("web-2", 1),
        ("web-2", 2),
    ]
    await follower.aclose()  # type: ignore[attr-defined]


async def test_a_tail_never_repeats_what_the_stream_replays_from_before_it(index: LogIndex) -> None:
    stream = MemoryLogStream()
    batch = lines(WEB1, 1, 4)
    index.add([batch])
    index.commit()
    await stream.publish(batch)  # inside the catch-up window: replayed by the stream
    follower = center(index, stream).follow(WEB, "", tail=10)
    shown = await take(follower, 4)
    await stream.publish(lines(WEB1, 5, 1))
    shown += await asyncio.wait_for(take(follower, 1), 5)
    assert [h.seq for h in shown if isinstance(h, Hit)] == [1, 2, 3, 4, 5]
    await follower.aclose()  # type: ignore[attr-defined]


async def test_a_tail_filters_live_lines_by_the_query(index: LogIndex) -> None:
    stream = MemoryLogStream()
    follower = center(index, stream).follow(WEB, "error -ignored", tail=0)
    task = asyncio.ensure_future(take(follower, 1))
    await asyncio.sleep(0.05)
    await stream.publish(
        Batch(
            WEB1,
            (
                Line(1, T0 + 200, "stdout", "error ignored"),
                Line(2, T0 + 201, "stdout", "all fine"),
                Line(3, T0 + 202, "stderr", "an error here"),
            ),
        )
    )
    got = await asyncio.wait_for(task, 5)
    assert [h.text for h in got if isinstance(h, Hit)] == ["an error here"]


def test_a_download_is_every_matching_line_oldest_first_in_ndjson_or_text(index: LogIndex) -> None:
    index.add([lines(WEB1, 1, 1500), lines(WEB2, 1, 10, t=T0 + 5)])
    index.commit()
    logs = center(index, MemoryLogStream())
    records = [json.loads(r) for r in b"".join(logs.download(WEB, "", fmt="ndjson")).splitlines()]
    assert len(records) == 1510
    assert [r["time_ns"] for r in records] == sorted(r["time_ns"] for r in records)
    text = b"".join(logs.download(WEB, "n7", fmt="text")).decode().splitlines()
    assert [line.split(" ", 3)[1:] for line in text] == [
        ["web-1", "stdout", "line n7"],
        ["web-2", "stdout", "line n7"],
    ]


def test_a_download_reads_the_archive_for_days_the_index_no_longer_holds(
    index: LogIndex, tmp_path: Path
) -> None:
    archive = Archive(str(tmp_path / "archive"))
    old = T0 - 3 * 86_400 * 10**9
    batch = lines(WEB1, 1, 3, t=old, text="archived")
    file = HourFile.of(WEB1, hour=hour_of(old), first_seq=1, last_seq=3)
    archive.write(file, io.BytesIO(b"".join(encode_record(WEB1, ln) for ln in batch.lines)))
    index.add([lines(WEB1, 4, 2)])
    index.commit()
    since = datetime.fromtimestamp((old - 10**9) / 1e9, UTC)
    filters = Filters(
        team="shop", service="web", env="test", since_ns=int(since.timestamp()) * 10**9
    )
    text = b"".join(center(index, MemoryLogStream(), archive).download(filters, "", fmt="text"))
    assert [line.rsplit(" ", 1)[1] for line in text.decode().splitlines()] == [
        "n1",
        "n2",
        "n3",
        "n4",
        "n5",
    ]


def test_a_download_reads_the_archive_up_to_its_own_environments_first_indexed_day(
    index: LogIndex, tmp_path: Path
) -> None:
    """online keeps older days than test: the index's oldest day overall (online's) must not
    hide test's archived days from a download of test."""
    archive = Archive(str(tmp_path / "archive"))
    old = T0 - 3 * 86_400 * 10**9
    batch = lines(WEB1, 1, 3, t=old, text="archived")
    file = HourFile.of(WEB1, hour=hour_of(old), first_seq=1, last_seq=3)
    archive.write(file, io.BytesIO(b"".join(encode_record(WEB1, ln) for ln in batch.lines)))
    online = Source("shop", "web", Environment.ONLINE, "web-9")
    index.add([lines(online, 1, 2, t=old - 86_400 * 10**9), lines(WEB1, 4, 2)])
    index.commit()
    since_ns = old - 10**9
    filters = Filters(team="shop", service="web", env="test", since_ns=since_ns)
    text = b"".join(center(index, MemoryLogStream(), archive).download(filters, "", fmt="text"))
    assert [line.rsplit(" ", 1)[1] for line in text.decode().splitlines()] == [
        "n1",
        "n2",
        "n3",
        "n4",
        "n5",
    ]


async def test_a_tail_ends_with_unavailable_when_the_stream_goes_away(index: LogIndex) -> None:
    stream = MemoryLogStream()
    await stream.close()  # down before the tail follows it
    follower = center(index, stream).follow(WEB, "", tail=0)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(take(follower, 1), 5)
