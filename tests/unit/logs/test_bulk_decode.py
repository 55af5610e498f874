"""The reader's bulk path (Docker's json-file lines decoded a group at a time) makes exactly the
lines, times, cuts, malformed counts and checkpoints that taking the lines one by one makes, for
every chunk size, through split long lines, malformed lines, other time forms and invalid
UTF-8."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.logs.framing import Splitter
from dockyard.logs.jsonfile import RAW_LIMIT, Joiner, parse_lines
from dockyard.logs.reader import Format, Reader, ReadLimits

MAX_LINE = 1024


def entry(
    log: str, stream: str = "stdout", time: object = "2026-12-06T10:00:00.123456789Z"
) -> bytes:
    return json.dumps({"log": log, "stream": stream, "time": time}).encode() + b"\n"


def odd_json() -> bytes:
    """Valid JSON lines, not all of them whole entries of Docker's own form."""
    parts = [entry(f"n={i} line\n") for i in range(50)]
    parts += [entry("a" * 300), entry("b" * 300), entry("c\n")]  # a line Docker split in three
    parts += [entry("e" * 5000 + "\n")]  # longer than the limit: cut
    parts += [entry("to stderr\n", "stderr"), entry("no stream\n").replace(b'"stdout"', b"1")]
    parts += [b"[1, 2]\n", b'{"log": 5}\n', b'{"stream": "stdout"}\n']  # JSON, no entries
    parts += [entry("half", "stdout"), entry("other stream\n", "stderr")]  # a part ended early
    parts += [entry("other time\n", time="2026-12-06T10:00:01+02:00")]
    parts += [entry("no time\n", time=None), entry("odd time\n", time="2026-12-06T10:00:0x.1Z")]
    parts += [entry("plus\n", time="2026-12-06T10:00:00.+12345678Z")]
    parts += [entry("bad \ufffd utf8 replaced\n")]
    parts += [
        entry(f"m={i} more\n", time=f"2026-12-06T10:00:{i % 60:02d}.000000001Z") for i in range(80)
    ]
    parts += [entry("unfinished at the end")]
    return b"".join(parts)


def broken() -> bytes:
    """Lines that are no JSON, or too long to be Docker's, among entries."""
    parts = [entry(f"n={i} line\n") for i in range(20)]
    parts += [b"not json\n", b"1,2\n", b'{"log": "bad \xff utf8\\n", "stream": "stdout"}\n']
    parts += [b'{"log": "x' + b"y" * (RAW_LIMIT + 10) + b'\\n"}\n']
    parts += [entry(f"m={i} more\n") for i in range(20)]
    return b"".join(parts)


def one_by_one(data: bytes) -> tuple[list[tuple[int, str, str, int]], int]:
    splitter, joiner = Splitter(RAW_LIMIT), Joiner(MAX_LINE)
    records, malformed = joiner.feed(splitter.feed(data, 0), inode=1, now_ns=7)
    return [(r.time_ns, r.stream, r.text, r.cut) for r in records], malformed


@pytest.mark.parametrize("chunk", [97, 1000, 4096, 64 * 1024, 1 << 20])
@pytest.mark.parametrize("make", [odd_json, broken])
def test_bulk_reads_what_one_by_one_makes(
    tmp_path: Path, chunk: int, make: Callable[[], bytes]
) -> None:
    data = make()
    path = tmp_path / "c-json.log"
    path.write_bytes(data)
    reader = Reader(
        path, fmt=Format.JSON_FILE, stream="", max_line_bytes=MAX_LINE, at=None, now_ns=lambda: 7
    )
    limits = ReadLimits(max_lines=37, max_bytes=1 << 30, max_s=60, chunk_bytes=chunk)
    got, malformed, seqs = [], 0, []
    while True:
        read = reader.read(limits)
        got += [(ln.time_ns, ln.stream, ln.text, ln.cut) for ln in read.lines]
        seqs += [ln.seq for ln in read.lines]
        malformed += read.malformed
        if read.at_end:
            break
    reader.close()
    assert (got, malformed) == one_by_one(data)
    assert seqs == list(range(1, len(got) + 1))
    assert read.resume.seq == len(got)


def test_whole_json_lines_take_the_bulk_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(odd_json())
    reader = Reader(path, fmt=Format.JSON_FILE, stream="", max_line_bytes=MAX_LINE, at=None)

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("taken one by one")

    monkeypatch.setattr(reader, "_lines", refused)
    read = reader.read(ReadLimits(max_lines=10_000, max_bytes=1 << 30, chunk_bytes=1 << 20))
    assert len(read.lines) == 141 and read.malformed == 3


@pytest.mark.parametrize(
    ("pieces", "values"),
    [
        ([b'{"a":1}', b"2"], [{"a": 1}, 2]),
        ([b'{"a":1}', b"nope"], None),
        ([b"1,2", b"3"], None),  # two values on one line: not one per line
        ([b"[1", b"2]"], None),
        ([b'"\xff"'], None),  # invalid UTF-8: the caller decodes with replacement
    ],
)
def test_parse_lines_decodes_one_value_per_line_or_none(
    pieces: list[bytes], values: list[object] | None
) -> None:
    assert parse_lines(pieces) == values


def test_parse_lines_decodes_long_chunks_in_groups() -> None:
    pieces = [json.dumps({"log": "z" * 1000, "n": n}).encode() for n in range(500)]
    values = parse_lines(pieces)
    assert values is not None and [v["n"] for v in values] == list(range(500))
