"""The log archive: every source's lines as zstd-compressed NDJSON objects at an fsspec URL (a
local path, s3://BUCKET/PREFIX, hdfs://...), for downloads and for big-data jobs. The archiver
(logs/archiver.py) writes it; downloads read it back.

Layout (Hive-style partitions, so Spark, Presto or DuckDB can prune by them):

    team=T/service=S/env=E/date=YYYY-MM-DD/hour=HH/INSTANCE.CHANNEL.FIRST-LAST.ndjson.zst

One object holds one consecutive run of one source's lines (FIRST..LAST are its line numbers,
logs/record.py) filed under one UTC hour; an hour may hold several objects of a source (written
at each flush or size limit), each immutable. CHANNEL is `console` or a token made from the
declared file's path. Names starting with `.` are temporaries, which such tools ignore.

An object is either complete under its final name or absent: a local file (or HDFS) is written
under a temporary name and renamed; an object store gets one PUT, or a multipart upload that is
completed only after its last part. hdfs:// goes the rename way through fsspec's HDFS driver;
no HDFS runs on these machines, so that path is untested here.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import heapq
import io
import json
import os
import posixpath
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, TypeVar

import fsspec  # type: ignore[import-untyped]  # no stubs, no py.typed
import zstandard
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from dockyard.domain.errors import DiskFull, DockyardError, Unavailable
from dockyard.logs.record import CONSOLE, Line, Source, parse_env
from dockyard.logs.retention import Part

SUFFIX = ".ndjson.zst"
TEMP_PREFIX = ".tmp-"
HOUR = timedelta(hours=1)
_NAME = re.compile(r"^(?P<instance>.+)\.(?P<channel>[A-Za-z0-9_-]+)\.(?P<first>\d+)-(?P<last>\d+)$")
# Stores where a PUT is atomic and rename is a copy: write the whole object in one call.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"})
_T = TypeVar("_T")
_READ_BLOCK = 1 << 20  # per open object while reading: many sources are merged at once


def hour_of(time_ns: int) -> datetime:
    """The UTC hour (as an aware datetime) that `time_ns` falls in."""
    seconds = time_ns // 1_000_000_000
    return datetime.fromtimestamp(seconds - seconds % 3600, UTC)


def channel_token(channel: str) -> str:
    """A file-name-safe token for a source's channel: `console`, or the declared file's path
    made safe plus a short hash of it (two paths never share a token)."""
    if channel == CONSOLE:
        return CONSOLE
    slug = re.sub(r"[^A-Za-z0-9]+", "_", channel).strip("_")[-40:]
    return f"{slug}-{hashlib.sha256(channel.encode()).hexdigest()[:8]}"


def service_dir(team: str, service: str, env: str) -> str:
    return f"team={team}/service={service}/env={env}"


def hour_dir(team: str, service: str, env: str, hour: datetime) -> str:
    return f"{service_dir(team, service, env)}/date={hour:%Y-%m-%d}/hour={hour:%H}"


@dataclass(frozen=True)
class HourFile:
    """One archive object: lines FIRST..LAST of one source, filed under one UTC hour."""

    team: str
    service: str
    env: str
    hour: datetime
    instance: str
    channel: str  # the channel's token (channel_token), not the path itself
    first_seq: int
    last_seq: int

    @property
    def name(self) -> str:
        return f"{self.instance}.{self.channel}.{self.first_seq}-{self.last_seq}{SUFFIX}"

    @property
    def path(self) -> str:
        """Where the object lives, relative to the archive's root."""
        return f"{hour_dir(self.team, self.service, self.env, self.hour)}/{self.name}"

    @classmethod
    def parse(cls, path: str) -> HourFile | None:
        """The HourFile named by `path` (relative or not), or None for anything else (a
        temporary, a stranger's file)."""
        parts = path.rstrip("/").split("/")
        if len(parts) < 6 or not parts[-1].endswith(SUFFIX):
            return None
        keys = _partition_values(parts[-6:-1])
        match = _NAME.match(parts[-1][: -len(SUFFIX)])
        if keys is None or match is None:
            return None
        try:
            day = date.fromisoformat(keys["date"])
            hour = datetime(day.year, day.month, day.day, int(keys["hour"]), tzinfo=UTC)
        except ValueError:
            return None
        return cls(
            keys["team"], keys["service"], keys["env"], hour, match["instance"],
            match["channel"], int(match["first"]), int(match["last"]),
        )  # fmt: skip

    @classmethod
    def of(cls, source: Source, *, hour: datetime, first_seq: int, last_seq: int) -> HourFile:
        return cls(
            source.team, source.service, str(source.env), hour, source.instance,
            channel_token(source.channel), first_seq, last_seq,
        )  # fmt: skip

    def holds(self, source: Source) -> bool:
        return self.instance == source.instance and self.channel == channel_token(source.channel)


def _partition_values(parts: list[str]) -> dict[str, str] | None:
    pairs = [part.partition("=") for part in parts]
    keys = [key for key, _, _ in pairs]
    if keys != ["team", "service", "env", "date", "hour"]:
        return None
    return {key: value for key, _, value in pairs}


@dataclass(frozen=True)
class ArchivedLine:
    """One line read back from the archive, with the source it came from."""

    source: Source
    line: Line
    level: str = ""

    def ndjson(self) -> bytes:
        """The archive's own record for this line, with its newline (for NDJSON downloads)."""
        return encode_record(self.source, self.line, level=self.level)

    def plain(self) -> str:
        """`TIME INSTANCE STREAM TEXT` and a newline (for plain-text downloads)."""
        when = rfc3339(self.line.time_ns)
        return f"{when} {self.source.instance} {self.line.stream} {self.line.text}\n"


def rfc3339(time_ns: int) -> str:
    """`2026-12-06T17:00:00.123456789Z`: RFC 3339 in UTC with nanoseconds."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return f"{_second(seconds)}.{nanos:09d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # Formatting a datetime is the largest cost of encoding a record; lines come many a second.
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}"


def encode_record(source: Source, line: Line, *, level: str = "") -> bytes:
    """One NDJSON record (with its newline): what every archived line looks like.

    {"time": RFC 3339 with ns, "time_ns", "team", "service", "env", "instance", "host",
    "channel", "stream", "seq", "level" ("" when unknown), "text", "cut"}
    """
    return (
        f'{{"time":"{rfc3339(line.time_ns)}","time_ns":{line.time_ns},{_source_fields(source)},'
        f'"stream":{_string(line.stream)},"seq":{line.seq},"level":{_string(level)},'
        f'"text":{_string(line.text)},"cut":{line.cut}}}\n'
    ).encode()


_string: Callable[[str], str] = encode_basestring  # a JSON string, non-ASCII kept as is


@functools.lru_cache(maxsize=4096)
def _source_fields(source: Source) -> str:
    """The fields every line of a source shares, encoded once (they are most of a record)."""
    fields = {
        "team": source.team,
        "service": source.service,
        "env": str(source.env),
        "instance": source.instance,
        "host": source.host,
        "channel": source.channel,
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[1:-1]


def decode_record(data: bytes) -> ArchivedLine:
    r = json.loads(data)
    source = _source((r["team"], r["service"], r["env"], r["instance"], r["channel"], r["host"]))
    line = Line(int(r["seq"]), int(r["time_ns"]), r["stream"], r["text"], int(r["cut"]))
    return ArchivedLine(source, line, r.get("level") or "")


@functools.lru_cache(maxsize=4096)
def _source(fields: tuple[str, str, str, str, str, str]) -> Source:
    team, service, env, instance, channel, host = fields
    return Source(team, service, parse_env(env), instance, channel, host)


@contextlib.contextmanager
def _translated(url: str, doing: str) -> Iterator[None]:
    """The one place the storage library's errors become Dockyard's."""
    try:
        yield
    except DockyardError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"the log archive at {url} is full while {doing}: free space") from exc
        raise Unavailable(f"the log archive at {url} failed while {doing}: {exc}") from exc
    except Exception as exc:  # s3fs/botocore/pyarrow raise their own types as well
        raise Unavailable(f"the log archive at {url} failed while {doing}: {exc!r}") from exc


class Archive:
    """The archive at `url`. Every method blocks (call it from a thread in async code) and
    raises Unavailable (DiskFull for a full local disk) when the store fails."""

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        level: int = 3,
        spool_dir: Path | None = None,
    ) -> None:
        """`storage_options` go to fsspec (for s3: endpoint_url, key, secret ...); `level` is
        zstd's; `spool_dir` holds an object store's object while it is compressed."""
        self.url = url
        options = {"use_listings_cache": False, **(storage_options or {})}
        with _translated(url, "opening"):
            fs, root = fsspec.core.url_to_fs(url, **options)
        self._fs: fsspec.AbstractFileSystem = fs
        self._root = root.rstrip("/")
        self._level = level
        self._spool_dir = spool_dir
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self._object_store = bool(protocols & _OBJECT_STORES)

    def _full(self, relative: str) -> str:
        return f"{self._root}/{relative}" if relative else self._root

    # -- writing ---------------------------------------------------------------------------

    def write(self, file: HourFile, ndjson: IO[bytes]) -> int:
        """Compress `ndjson` (records, each ending in a newline) into the object `file`, all or
        nothing: after a failure or a crash no object of that name exists, or one from an
        earlier complete write of the same lines. Returns the object's size in bytes."""
        target = self._full(file.path)
        with _translated(self.url, f"writing {file.path}"):
            if isinstance(self._fs, LocalFileSystem):
                return _write_local(Path(target), ndjson, self._level)
            if self._object_store:
                return self._put(target, ndjson)
            return self._write_renamed(target, ndjson)

    def _put(self, target: str, ndjson: IO[bytes]) -> int:
        # One put_file: a single PUT, or a multipart upload completed after its last part
        # (and aborted on failure), so the name never shows a partial object.
        with tempfile.NamedTemporaryFile(dir=self._spool_dir, suffix=SUFFIX) as spool:
            _compress(ndjson, spool, self._level)
            spool.flush()
            self._fs.put_file(spool.name, target)
            return spool.tell()

    def _write_renamed(self, target: str, ndjson: IO[bytes]) -> int:
        directory, name = posixpath.split(target)
        temporary = f"{directory}/{TEMP_PREFIX}{name}-{secrets.token_hex(4)}"
        self._fs.makedirs(directory, exist_ok=True)
        try:
            with self._fs.open(temporary, "wb") as out:
                _compress(ndjson, out, self._level)
                size = out.tell()
            self._fs.mv(temporary, target)
        except BaseException:
            with contextlib.suppress(Exception):
                self._fs.rm(temporary)
            raise
        return int(size)

    def clean(self) -> int:
        """Remove temporaries a crash left behind (call at start, with no writer running);
        returns how many. Object stores have none: an upload that was never completed is not
        visible (a bucket lifecycle rule aborting incomplete multipart uploads frees their
        parts)."""
        if self._object_store:
            return 0
        with _translated(self.url, "removing temporaries"):
            if not self._fs.exists(self._root):
                return 0
            leftovers = [
                path
                for path in self._fs.find(self._root)
                if posixpath.basename(path).startswith(TEMP_PREFIX)
            ]
            for path in leftovers:
                self._fs.rm(path)
        return len(leftovers)

    # -- listing ---------------------------------------------------------------------------

    def _names(self, relative: str) -> list[str]:
        """The entries of a directory (their base names), [] if it does not exist."""
        try:
            entries = self._fs.ls(self._full(relative), detail=False)
        except FileNotFoundError:
            return []
        return sorted(posixpath.basename(str(entry).rstrip("/")) for entry in entries)

    def hours(self, team: str, service: str, env: str) -> list[datetime]:
        """Every hour partition present for (team, service, env), oldest first."""
        with _translated(self.url, "listing"):
            return [hour for hour, _ in self._hour_dirs(team, service, env)]

    def _hour_dirs(self, team: str, service: str, env: str) -> Iterator[tuple[datetime, str]]:
        base = service_dir(team, service, env)
        for day_name in self._names(base):
            day = _value(day_name, "date", date.fromisoformat)
            if day is None:
                continue
            for hour_name in self._names(f"{base}/{day_name}"):
                number = _value(hour_name, "hour", int)
                if number is not None and 0 <= number < 24:
                    hour = datetime(day.year, day.month, day.day, number, tzinfo=UTC)
                    yield hour, f"{base}/{day_name}/{hour_name}"

    def files(
        self,
        team: str,
        service: str,
        env: str,
        *,
        since: datetime,
        until: datetime | None = None,
        instance: str | None = None,
    ) -> list[HourFile]:
        """The objects of (team, service, env[, instance]) filed under hours that overlap
        [since, until) (until None: no end), by hour then name."""
        found: list[HourFile] = []
        with _translated(self.url, "listing"):
            for hour, relative in self._hour_dirs(team, service, env):
                if hour + HOUR <= since or (until is not None and hour >= until):
                    continue
                for name in self._names(relative):
                    file = HourFile.parse(f"{relative}/{name}")
                    if file is not None and instance in (None, file.instance):
                        found.append(file)
        return found

    # -- reading ---------------------------------------------------------------------------

    def lines(
        self,
        team: str,
        service: str,
        env: str,
        *,
        since: datetime,
        until: datetime,
        instance: str | None = None,
    ) -> Iterator[ArchivedLine]:
        """Lines written in [since, until) (aware datetimes), each source's in line-number
        order, the sources (instances, and their declared files) merged by time. Streams: holds
        one open object per source, never the whole range.

        An object may hold lines from before its hour (a line whose clock went back is filed
        with the lines before it), so the hour after `until` is read too.
        """
        files = self.files(team, service, env, since=since, until=until + HOUR, instance=instance)
        by_source: dict[tuple[str, str], list[HourFile]] = {}
        for file in files:
            by_source.setdefault((file.instance, file.channel), []).append(file)
        low, high = _ns(since), _ns(until)
        streams = [
            self._source_lines(sorted(group, key=lambda f: f.first_seq), low, high)
            for group in by_source.values()
        ]
        yield from heapq.merge(*streams, key=lambda a: (a.line.time_ns, a.source.instance))

    def _source_lines(self, files: list[HourFile], low: int, high: int) -> Iterator[ArchivedLine]:
        last = 0  # skips any line seen twice, should two objects ever overlap
        for file in files:
            for archived in self.read(file):
                if archived.line.seq > last and low <= archived.line.time_ns < high:
                    last = archived.line.seq
                    yield archived

    def read(self, file: HourFile) -> Iterator[ArchivedLine]:
        """Every line of one object, in order (streaming)."""
        with _translated(self.url, f"reading {file.path}"):
            options = {} if isinstance(self._fs, LocalFileSystem) else {"block_size": _READ_BLOCK}
            with self._fs.open(self._full(file.path), "rb", **options) as raw:
                reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
                for data in io.BufferedReader(reader):
                    yield decode_record(data)

    # -- retention -------------------------------------------------------------------------

    def expire(self, *, before: datetime | Callable[[str], datetime]) -> list[str]:
        """Delete every hour partition that ended at or before `before`, or `before(env)`
        for the hours of environment `env` (each environment keeps its own number of days);
        whole days at once where the day is over. Returns the partitions removed, relative to
        the root. Works the same on a local path and an object store (a prefix's objects)."""
        cutoff = before if callable(before) else (lambda _env: before)
        removed: list[str] = []
        with _translated(self.url, "deleting expired hours"):
            for base in self._service_dirs():
                env = _value(base.rsplit("/", 1)[-1], "env", str)
                if env is not None:
                    removed += self._expire_service(base, cutoff(env))
        return removed

    def day_parts(self) -> list[Part]:
        """Every day partition (`team=T/service=S/env=E/date=D`, relative to the root) with
        its bytes, all of them the team's: what the size cap chooses from."""
        parts: list[Part] = []
        with _translated(self.url, "measuring"):
            for base in self._service_dirs():
                team = base.split("/", 1)[0].partition("=")[2]
                env = _value(base.rsplit("/", 1)[-1], "env", str) or ""
                for day_name in self._names(base):
                    day = _value(day_name, "date", date.fromisoformat)
                    if day is not None:
                        size = int(self._fs.du(self._full(f"{base}/{day_name}"), total=True))
                        name = f"{base}/{day_name}"
                        parts.append(Part(name, day.isoformat(), env, size, {team: size}))
        return parts

    def remove(self, relative: str) -> None:
        """Delete a partition (a directory or prefix relative to the root) and all under it."""
        with _translated(self.url, f"deleting {relative}"):
            self._fs.rm(self._full(relative), recursive=True)

    def _service_dirs(self) -> Iterator[str]:
        for team in self._names(""):
            for service in self._names(team):
                for env in self._names(f"{team}/{service}"):
                    if team.startswith("team=") and service.startswith("service="):
                        yield f"{team}/{service}/{env}"

    def _expire_service(self, base: str, before: datetime) -> list[str]:
        removed: list[str] = []
        for day_name in self._names(base):
            day = _value(day_name, "date", date.fromisoformat)
            if day is None or day > before.date():
                continue
            if datetime(day.year, day.month, day.day, tzinfo=UTC) + 24 * HOUR <= before:
                self._fs.rm(self._full(f"{base}/{day_name}"), recursive=True)
                removed.append(f"{base}/{day_name}")
                continue
            for hour_name in self._names(f"{base}/{day_name}"):
                number = _value(hour_name, "hour", int)
                start = datetime(day.year, day.month, day.day, tzinfo=UTC)
                if number is not None and start + (number + 1) * HOUR <= before:
                    self._fs.rm(self._full(f"{base}/{day_name}/{hour_name}"), recursive=True)
                    removed.append(f"{base}/{day_name}/{hour_name}")
        return removed


def _value(name: str, key: str, convert: Callable[[str], _T]) -> _T | None:
    """The value of a `key=value` directory name, converted; None if it is not one."""
    found, _, value = name.partition("=")
    if found != key:
        return None
    try:
        return convert(value)
    except ValueError:
        return None


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _compress(source: IO[bytes], out: IO[bytes], level: int) -> None:
    compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
    compressor.copy_stream(source, out)


def _write_local(target: Path, ndjson: IO[bytes], level: int) -> int:
    """Temporary name in the same directory, fsync, rename, fsync the directory: the name
    appears only for a complete object, and stays after a power cut."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}")
    try:
        with open(temporary, "wb") as out:
            _compress(ndjson, out, level)
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return size


def lines_in(files: Iterable[HourFile]) -> int:
    """How many lines the named objects hold (from their names alone)."""
    return sum(file.last_seq - file.first_seq + 1 for file in files)
