"""The log archive on S3 (moto's server, tests/support/s3.py): the archiver writes through
`s3://`, the objects are whole under Hive-style keys, and lines read back in order.

hdfs:// is the other remote the archive supports (by rename, through fsspec's HDFS driver); no
HDFS runs on these machines, so it is not tested here.
"""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.logs.archive import Archive, HourFile, encode_record
from dockyard.logs.archiver import Archiver, Limits
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source
from dockyard.settings import Settings
from tests.support.s3 import RunningS3

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000


def s3_archive(s3: RunningS3, bucket: str, tmp_path: Path) -> Archive:
    options = {
        "endpoint_url": s3.endpoint,
        "key": s3.access_key,
        "secret": s3.secret_key,
        "client_kwargs": {"region_name": "us-east-1"},
    }
    return Archive(f"s3://{bucket}/logs", storage_options=options, spool_dir=tmp_path)


def batch(instance: str, first: int, last: int, offset_ns: int = 0) -> Batch:
    src = Source("shop", "cart", Environment.ONLINE, instance, "console", "host-1")
    lines = tuple(
        Line(n, T0_NS + offset_ns + n * 1_000_000, "stdout", f"{instance} line {n} " + "x" * 60)
        for n in range(first, last + 1)
    )
    return Batch(src, lines)


async def test_the_archiver_writes_to_s3_and_lines_read_back_in_order(
    s3_server: RunningS3, tmp_path: Path
) -> None:
    bucket = f"logs-{secrets.token_hex(4)}"
    s3_server.create_bucket(bucket)
    archive = s3_archive(s3_server, bucket, tmp_path)
    stream = MemoryLogStream()
    clock = [T0.timestamp() + 60]
    worker = Archiver(stream, archive, clock=lambda: clock[0], limits=Limits(max_lines=3000))
    for first in range(1, 5001, 500):
        await stream.publish(batch("a1", first, first + 499))
        await stream.publish(batch("b2", first, first + 499, offset_ns=500_000))
    await worker.step(timeout_s=0.1)
    await worker.flush()
    assert worker.held == 0

    keys = s3_server.objects(bucket)
    prefix = "logs/team=shop/service=cart/env=online/date=2026-12-06/hour=10/"
    assert sorted(keys) == [
        f"{prefix}a1.console.1-3000.ndjson.zst",
        f"{prefix}a1.console.3001-5000.ndjson.zst",
        f"{prefix}b2.console.1-3000.ndjson.zst",
        f"{prefix}b2.console.3001-5000.ndjson.zst",
    ]
    assert all(size > 0 for size in keys.values())

    lines = list(
        s3_archive(s3_server, bucket, tmp_path).lines(
            "shop", "cart", "online", since=T0, until=T0 + timedelta(hours=1)
        )
    )
    assert len(lines) == 10_000
    assert [x.line.time_ns for x in lines] == sorted(x.line.time_ns for x in lines)
    for name in ("a1", "b2"):
        assert [x.line.seq for x in lines if x.source.instance == name] == list(range(1, 5001))


async def test_a_restarted_archiver_on_s3_knows_what_is_archived_by_name(
    s3_server: RunningS3, tmp_path: Path
) -> None:
    bucket = f"logs-{secrets.token_hex(4)}"
    s3_server.create_bucket(bucket)
    stream = MemoryLogStream()
    clock = [T0.timestamp() + 60]
    first = Archiver(stream, s3_archive(s3_server, bucket, tmp_path), clock=lambda: clock[0])
    await stream.publish(batch("a1", 1, 100))
    await first.step(timeout_s=0.1)
    archive = s3_archive(s3_server, bucket, tmp_path)
    for state in first._sources.values():  # the object is written, the process dies unacked
        for buffer in state.buffers:
            archive.write(buffer.file, buffer.spool.reader())
    await stream.publish(batch("a1", 101, 150))
    stream.lapse("archiver")
    second = Archiver(stream, archive, clock=lambda: clock[0])
    await second.step(timeout_s=0.1)
    await second.flush()
    assert second.held == 0
    assert sorted(k.rsplit("/", 1)[1] for k in s3_server.objects(bucket)) == [
        "a1.console.1-100.ndjson.zst",
        "a1.console.101-150.ndjson.zst",
    ]


def test_expire_removes_old_hours_from_s3(s3_server: RunningS3, tmp_path: Path) -> None:
    bucket = f"logs-{secrets.token_hex(4)}"
    s3_server.create_bucket(bucket)
    archive = s3_archive(s3_server, bucket, tmp_path)
    for hours_ago in (48, 1):
        b = batch("a1", hours_ago, hours_ago, offset_ns=-hours_ago * 3600 * 1_000_000_000)
        line = b.lines[0]
        hour = T0 - timedelta(hours=hours_ago)
        file = HourFile.of(b.source, hour=hour, first_seq=line.seq, last_seq=line.seq)
        archive.write(file, io.BytesIO(encode_record(b.source, line)))
    removed = archive.expire(before=T0 - timedelta(hours=24))
    assert removed == ["team=shop/service=cart/env=online/date=2026-12-04"]
    assert [k.split("/")[4] for k in s3_server.objects(bucket)] == ["date=2026-12-06"]


async def test_the_archiver_expires_each_environment_on_s3_with_settings_options(
    s3_server: RunningS3, tmp_path: Path
) -> None:
    """The archive opened with the storage options settings make of DOCKYARD_LOG_ARCHIVE_S3_*,
    and the archiver's retention per environment: test's old hours go, online's stay."""
    bucket = f"logs-{secrets.token_hex(4)}"
    s3_server.create_bucket(bucket)
    logs = Settings.from_env(
        {
            "HOME": str(tmp_path),
            "DOCKYARD_LOG_ARCHIVE_URL": f"s3://{bucket}/logs",
            "DOCKYARD_LOG_ARCHIVE_S3_ENDPOINT": s3_server.endpoint,
            "DOCKYARD_LOG_ARCHIVE_S3_KEY": s3_server.access_key,
            "DOCKYARD_LOG_ARCHIVE_S3_SECRET": s3_server.secret_key,
            "DOCKYARD_LOG_ARCHIVE_S3_REGION": "us-east-1",
            "DOCKYARD_LOG_ARCHIVE_DAYS": "30,test=1",
        },
        uid=0,
    ).logs
    archive = Archive(
        logs.archive_url, storage_options=logs.archive_storage_options, spool_dir=tmp_path
    )
    stream = MemoryLogStream()
    old = -3 * 24 * 3600 * 1_000_000_000
    test = Source("shop", "cart", Environment.TEST, "t1", "console", "host-1")
    for src in (test, batch("a1", 1, 1).source):
        await stream.publish(Batch(src, (Line(1, T0_NS + old, "stdout", "three days old"),)))
        await stream.publish(Batch(src, (Line(2, T0_NS, "stdout", "today"),)))
    clock = [T0.timestamp() + 60]
    worker = Archiver(stream, archive, clock=lambda: clock[0], keep_days=logs.archive_retention)
    await worker.step(timeout_s=0.1)  # writes the old hours (over), then applies retention
    await worker.flush()
    dates = sorted(k.split("/")[3:5] for k in s3_server.objects(bucket))
    assert dates == [
        ["env=online", "date=2026-12-03"],
        ["env=online", "date=2026-12-06"],
        ["env=test", "date=2026-12-06"],
    ]
