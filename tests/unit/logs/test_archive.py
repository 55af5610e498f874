"""The archive's objects on a local path: layout, records, atomic writes, read-back order,
retention."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.logs.archive import (
    Archive,
    ArchivedLine,
    HourFile,
    channel_token,
    encode_record,
    hour_of,
    rfc3339,
)
from dockyard.logs.record import Line, Source
from dockyard.logs.retention import Days, archive_before

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000


def source(instance: str = "a1", channel: str = "console") -> Source:
    return Source("shop", "cart", Environment.TEST, instance, channel, "host-1")


def ndjson(src: Source, lines: list[Line]) -> io.BytesIO:
    return io.BytesIO(b"".join(encode_record(src, line) for line in lines))


def put(archive: Archive, src: Source, lines: list[Line]) -> HourFile:
    file = HourFile.of(
        src, hour=hour_of(lines[0].time_ns), first_seq=lines[0].seq, last_seq=lines[-1].seq
    )
    archive.write(file, ndjson(src, lines))
    return file


def numbered(
    first: int, last: int, *, start_ns: int = T0_NS, step_ns: int = 1_000_000
) -> list[Line]:
    return [Line(n, start_ns + n * step_ns, "stdout", f"line {n}") for n in range(first, last + 1)]


def test_objects_are_hive_partitioned_by_team_service_env_date_hour(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    put(archive, source(), numbered(1, 3))
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [
        "team=shop/service=cart/env=test/date=2026-12-06/hour=10/a1.console.1-3.ndjson.zst"
    ]


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        (
            "root/team=t/service=s/env=online/date=2026-01-31/hour=23/ab12.console.5-9.ndjson.zst",
            HourFile("t", "s", "online", datetime(2026, 1, 31, 23, tzinfo=UTC), "ab12",
                     "console", 5, 9),
        ),
        ("team=t/service=s/env=test/date=2026-01-31/hour=23/.tmp-a.console.1-2.ndjson.zst-0", None),
        ("team=t/service=s/env=test/date=2026-13-31/hour=23/ab.console.1-2.ndjson.zst", None),
        ("team=t/service=s/env=test/date=2026-01-31/hour=23/ab.console.1-2.ndjson", None),
        ("team=t/service=s/date=2026-01-31/env=test/hour=23/ab.console.1-2.ndjson.zst", None),
    ],
)  # fmt: skip
def test_object_names_parse_back_and_strangers_do_not(path: str, parsed: HourFile | None) -> None:
    assert HourFile.parse(path) == parsed
    if parsed is not None:
        assert HourFile.parse(parsed.path) == parsed


def test_channel_tokens_are_file_name_safe_and_distinct() -> None:
    a, b = channel_token("/app/logs/a.log"), channel_token("/app/logs/a_log")
    assert channel_token("console") == "console"
    assert a != b
    assert a.startswith("app_logs_a_log-")
    assert all(c.isalnum() or c in "_-" for c in a + b)


def test_a_record_carries_every_field_and_an_rfc3339_nanosecond_time() -> None:
    line = Line(7, T0_NS + 123_456_789, "stderr", "boom \ufffd", cut=12)
    record = json.loads(encode_record(source(channel="console"), line))
    assert record == {
        "time": "2026-12-06T10:00:00.123456789Z",
        "time_ns": T0_NS + 123_456_789,
        "team": "shop",
        "service": "cart",
        "env": "test",
        "instance": "a1",
        "host": "host-1",
        "channel": "console",
        "stream": "stderr",
        "seq": 7,
        "level": "",
        "text": "boom \ufffd",
        "cut": 12,
    }
    assert rfc3339(T0_NS + 5) == "2026-12-06T10:00:00.000000005Z"


def test_read_back_gives_the_lines_written(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    file = put(archive, source(), numbered(1, 1000))
    assert [a.line for a in archive.read(file)] == numbered(1, 1000)


class _Failing(io.RawIOBase):
    """A reader that fails after `good` bytes, like a buffer on a disk that went away."""

    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise OSError("disk gone")
        n = min(len(buffer), self._left)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


def test_a_write_that_fails_midway_leaves_no_object_and_no_temporary(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    file = HourFile.of(source(), hour=T0, first_seq=1, last_seq=10)
    with pytest.raises(Unavailable, match="disk gone"):
        archive.write(file, io.BufferedReader(_Failing(3 << 20)))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


_SLOW_WRITER = """
import io, os, sys, time
from dockyard.logs.archive import Archive, HourFile
from dockyard.logs.record import Source
from dockyard.domain.environment import Environment
from datetime import datetime, UTC

class Slow(io.RawIOBase):
    def readable(self): return True
    def readinto(self, b):
        time.sleep(0.01)
        n = len(b); b[:n] = os.urandom(n); return n

src = Source("shop", "cart", Environment.TEST, "a1")
file = HourFile.of(src, hour=datetime(2026, 12, 6, 10, tzinfo=UTC), first_seq=1, last_seq=9)
Archive(sys.argv[1], level=1).write(file, io.BufferedReader(Slow(), 1 << 16))
"""


def test_a_writer_killed_mid_object_leaves_only_a_temporary_that_clean_removes(
    tmp_path: Path,
) -> None:
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while not [p for p in tmp_path.rglob(".tmp-*") if p.stat().st_size > 0]:
            assert child.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer never started its object"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
    archive = Archive(str(tmp_path))
    assert archive.files("shop", "cart", "test", since=T0 - timedelta(days=1)) == []
    assert not [p for p in tmp_path.rglob("*.zst") if not p.name.startswith(".")]
    assert archive.clean() == 1
    assert list(tmp_path.rglob(".tmp-*")) == []


def test_lines_merge_instances_by_time_each_in_line_order(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    a, b = source("a1"), source("b2")
    put(archive, a, numbered(1, 50, step_ns=2_000_000))
    put(archive, a, numbered(51, 100, step_ns=2_000_000))
    put(archive, b, numbered(1, 100, start_ns=T0_NS + 1_000_000, step_ns=2_000_000))
    got = list(archive.lines("shop", "cart", "test", since=T0, until=T0 + timedelta(hours=1)))
    assert len(got) == 200
    assert [x.line.time_ns for x in got] == sorted(x.line.time_ns for x in got)
    for name in ("a1", "b2"):
        assert [x.line.seq for x in got if x.source.instance == name] == list(range(1, 101))


def test_lines_keep_a_sources_order_when_its_clock_goes_back(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    lines = [Line(n, T0_NS + (100 - n) * 1_000, "stdout", f"l{n}") for n in range(1, 101)]
    put(archive, source(), lines)
    got = list(archive.lines("shop", "cart", "test", since=T0, until=T0 + timedelta(hours=1)))
    assert [x.line.seq for x in got] == list(range(1, 101))


def test_lines_select_a_time_range_and_an_instance(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    hour = 3600 * 1_000_000_000
    for h in range(3):
        put(archive, source("a1"), numbered(h * 10 + 1, h * 10 + 10, start_ns=T0_NS + h * hour))
        put(archive, source("b2"), numbered(h * 10 + 1, h * 10 + 10, start_ns=T0_NS + h * hour))
    since = T0 + timedelta(hours=1)
    got = list(
        archive.lines("shop", "cart", "test", since=since, until=since + timedelta(hours=1),
                      instance="b2")
    )  # fmt: skip
    assert [(x.source.instance, x.line.seq) for x in got] == [("b2", n) for n in range(11, 21)]


def test_plain_text_shows_time_instance_stream_and_text() -> None:
    line = ArchivedLine(source(), Line(3, T0_NS, "stderr", "hello"))
    assert line.plain() == "2026-12-06T10:00:00.000000000Z a1 stderr hello\n"
    assert line.ndjson() == encode_record(source(), Line(3, T0_NS, "stderr", "hello"))


def test_expire_deletes_only_hours_that_ended_before_the_cutoff(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    hour = 3600 * 1_000_000_000
    for h in (-30, -2, -1, 0):  # yesterday, then 08:00, 09:00, 10:00 today
        put(archive, source(), numbered(100 + h, 100 + h, start_ns=T0_NS + h * hour))
    removed = archive.expire(before=T0 - timedelta(minutes=30))
    assert sorted(removed) == [
        "team=shop/service=cart/env=test/date=2026-12-05",
        "team=shop/service=cart/env=test/date=2026-12-06/hour=08",
    ]
    assert archive.hours("shop", "cart", "test") == [T0 - timedelta(hours=1), T0]


def test_expire_keeps_each_environment_its_own_days(tmp_path: Path) -> None:
    archive = Archive(str(tmp_path))
    online = Source("shop", "cart", Environment.ONLINE, "o1", "console", "host-1")
    day = 24 * 3600 * 1_000_000_000
    for days_ago in (10, 3, 0):
        put(
            archive,
            source(),
            numbered(10 - days_ago, 10 - days_ago, start_ns=T0_NS - days_ago * day),
        )
        put(
            archive, online, numbered(10 - days_ago, 10 - days_ago, start_ns=T0_NS - days_ago * day)
        )
    keep = Days(2, {"online": 30})
    removed = archive.expire(before=lambda env: archive_before(T0.timestamp(), keep, env))
    assert sorted(removed) == [
        "team=shop/service=cart/env=test/date=2026-11-26",
        "team=shop/service=cart/env=test/date=2026-12-03",
    ]
    assert len(archive.hours("shop", "cart", "online")) == 3
    assert archive.hours("shop", "cart", "test") == [T0]


def test_a_store_with_rename_but_no_local_path_writes_by_temporary_and_rename() -> None:
    # fsspec's in-memory filesystem takes the path HDFS takes (no HDFS runs here to test).
    archive = Archive(f"memory://dockyard-archive-{os.getpid()}-{time.monotonic_ns()}")
    file = put(archive, source(), numbered(1, 100))
    assert [a.line.seq for a in archive.read(file)] == list(range(1, 101))
    leftover = f"{archive._root}/{file.path}".replace(file.name, ".tmp-x.console.1-2.ndjson.zst-0")
    archive._fs.pipe_file(leftover, b"half")
    assert archive.files("shop", "cart", "test", since=T0) == [file]
    assert archive.clean() == 1
    assert archive._fs.find(archive._root) == [f"{archive._root}/{file.path}"]
