"""Docker's whole json-file lines shipped as they are: the reader gathers them without decoding,
and what a consumer decodes of them is exactly what the per-line path makes (numbers, times,
streams, texts, checkpoints), for every chunk size and batch size, through lines Docker split,
lines over the limit, other time forms and an agent restarting at any checkpoint. Both wire
versions decode to the same lines, under the same message ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.logs import wire
from dockyard.logs.checkpoint import Checkpoint
from dockyard.logs.framing import Splitter
from dockyard.logs.jsonfile import RAW_LIMIT, Joiner
from dockyard.logs.raw import RawBatch, RawLines, docker_lines
from dockyard.logs.reader import Format, Read, Reader, ReadLimits
from dockyard.logs.record import Batch, Line, Source

SOURCE = Source("shop", "web", Environment.TEST, "i-1", host="h1")
TIME = "2026-12-06T10:00:00.123456789Z"


def docker(log: str, stream: str = "stdout", time: object = TIME) -> bytes:
    """One line as Docker's json-file driver writes it (compact, UTF-8 as it is)."""
    body = {"log": log, "stream": stream, "time": time}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def dockers_own(short: int = 2000) -> bytes:
    """Mostly Docker's whole short lines, with what must still go one by one among them."""
    parts = [docker(f'n={i} line with "quotes" and \\ and é\n') for i in range(short)]
    parts += [docker("to stderr\n", "stderr"), docker("tab\tand \u2028 sep\n")]
    parts += [docker("a" * 16384), docker("b" * 16384), docker("c end\n")]  # Docker split one
    parts += [docker("x" * 9000 + "\n")]  # over a 1 KiB limit: cut
    parts += [
        docker(f"m={i}\n", time=f"2026-12-06T10:00:{i % 60:02d}.000000001Z") for i in range(200)
    ]
    parts += [
        docker("other time\n", time="2026-12-06T10:00:01+02:00"),
        docker("no time\n", time=None),
    ]
    parts += [docker(f"k={i}\n") for i in range(short + short // 2)]
    parts += [docker("unfinished at the end")[:-1]]  # its newline not written yet
    return b"".join(parts)


def one_by_one(data: bytes, limit: int) -> list[tuple[int, str, str, int]]:
    splitter, joiner = Splitter(RAW_LIMIT), Joiner(limit)
    records, _ = joiner.feed(splitter.feed(data, 0), inode=1, now_ns=7)
    return [(r.time_ns, r.stream, r.text, r.cut) for r in records]


def lines_of(read: Read) -> list[Line]:
    return list(read.raw.lines()) if read.raw is not None else read.lines


def read_all(reader: Reader, limits: ReadLimits) -> tuple[list[Read], list[Line]]:
    reads: list[Read] = []
    lines: list[Line] = []
    for _ in range(100_000):
        read = reader.read(limits)
        reads.append(read)
        lines += lines_of(read)
        if read.at_end:
            return reads, lines
    raise AssertionError("never read to the end")


def opened(path: Path, limit: int, at: Checkpoint | None = None) -> Reader:
    return Reader(
        path, fmt=Format.JSON_FILE, stream="", max_line_bytes=limit, at=at, now_ns=lambda: 7
    )


@pytest.mark.parametrize("limit", [1024, 16 * 1024])
@pytest.mark.parametrize("chunk", [97, 4096, 64 * 1024, 1 << 20])
@pytest.mark.parametrize("most", [1, 37, 100_000])
def test_raw_reads_decode_to_what_one_by_one_makes(
    tmp_path: Path, limit: int, chunk: int, most: int
) -> None:
    data = dockers_own()
    path = tmp_path / "c-json.log"
    path.write_bytes(data)
    limits = ReadLimits(max_lines=most, max_bytes=1 << 30, max_s=60, chunk_bytes=chunk)
    reader = opened(path, limit)
    reads, lines = read_all(reader, limits)
    reader.close()
    assert [(ln.time_ns, ln.stream, ln.text, ln.cut) for ln in lines] == one_by_one(data, limit)
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1))
    assert all(read.count <= most for read in reads)
    assert reads[-1].resume.seq == len(lines)
    if 1 < most < 100 and chunk < len(data) // 4:
        # Most chunks hold short lines only, and a read taken one by one (lines that must be)
        # is followed by whole ones again.
        assert sum(read.count for read in reads if read.raw is not None) > len(lines) // 2


@pytest.mark.parametrize("chunk", [97, 4096, 1 << 20])
def test_a_reader_opened_at_any_checkpoint_makes_the_same_lines_after_it(
    tmp_path: Path, chunk: int
) -> None:
    data = dockers_own(short=300)
    path = tmp_path / "c-json.log"
    path.write_bytes(data)
    limits = ReadLimits(max_lines=50, max_bytes=1 << 30, max_s=60, chunk_bytes=chunk)
    reads, lines = read_all(opened(path, 1024), limits)
    for read in reads[:: max(1, len(reads) // 12)]:
        again = opened(path, 1024, at=read.resume)
        _, rest = read_all(again, limits)
        again.close()
        assert rest == lines[read.resume.seq :]


def test_a_raw_read_ends_its_checkpoint_at_a_line_end(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(b"".join(docker(f"{i}\n") for i in range(10)) + docker("half")[:20])
    reader = opened(path, 1024)
    read = reader.read(ReadLimits(max_lines=4, max_bytes=1 << 30, max_s=60))
    assert read.raw is not None and (read.raw.first_seq, read.raw.count) == (1, 4)
    assert read.resume.offset == len(b"".join(docker(f"{i}\n") for i in range(4)))
    assert (read.raw.start, read.raw.end) == (0, read.resume.offset)
    rest = reader.read(ReadLimits(max_lines=100, max_bytes=1 << 30, max_s=60))
    assert rest.raw is not None and (rest.raw.first_seq, rest.raw.count) == (5, 6)
    assert rest.resume.offset == len(b"".join(docker(f"{i}\n") for i in range(10)))


@pytest.mark.parametrize(
    ("whole", "longest", "count"),
    [
        (docker("a\n") + docker("b\n"), 1024, 2),
        (docker("a\n") + docker("b" * 2000 + "\n"), 1024, 0),  # a line over the limit
        (b'{"log": "a\\n"}\n', 1024, 0),  # not Docker's own form
        (b"plain text\n", 1024, 0),
    ],
)
def test_docker_lines_counts_only_short_lines_of_dockers_form(
    whole: bytes, longest: int, count: int
) -> None:
    assert docker_lines(whole, longest=longest) == count


def test_a_line_that_is_no_entry_keeps_its_number_and_its_bytes() -> None:
    data = docker("one\n") + b"not json \xff\n" + docker("three\n", "stderr", time="bad")
    lines = RawLines(5, 3, data, read_ns=99).lines()
    assert [(ln.seq, ln.stream, ln.text) for ln in lines] == [
        (5, "stdout", "one"),
        (6, "stdout", "not json \ufffd"),
        (7, "stderr", "three"),
    ]
    assert [ln.time_ns for ln in lines][1:] == [99, 99]


def raw_batch(first: int, texts: list[str]) -> RawBatch:
    data = b"".join(docker(text + "\n") for text in texts)
    return RawBatch(SOURCE, RawLines(first, len(texts), data, read_ns=5, inode=9, end=len(data)))


def test_both_wire_versions_decode_to_the_same_lines_under_the_same_id() -> None:
    raw = raw_batch(41, ["a", "b é", "c"])
    decoded = wire.decode(raw.encode())
    time_ns = decoded.lines[0].time_ns
    lines = tuple(Line(41 + i, time_ns, "stdout", t) for i, t in enumerate(["a", "b é", "c"]))
    assert decoded == Batch(SOURCE, lines)
    assert wire.decode(decoded.encode()) == decoded
    assert raw.msg_id == decoded.msg_id
    assert (raw.count, decoded.count) == (3, 3)


@pytest.mark.parametrize(
    "message",
    [
        b'{"v":3,"src":[]}',
        b'{"v":1,"src":["t","s","test","i","console",""],"lines":[]}\n{"log":"x\\n"}\n',
        b'{"v":2,"src":["t","s","test","i","console",""],"first":1,"count":2,"read_ns":0}\n'
        + docker("only one\n"),
        b'{"v":2,"src":["t","s","test","i","console",""],"first":0,"count":1,"read_ns":0}\n'
        + docker("numbered from 0\n"),
        b"not json",
    ],
)
def test_a_message_of_neither_version_is_refused(message: bytes) -> None:
    with pytest.raises(Invalid):
        wire.decode(message)
