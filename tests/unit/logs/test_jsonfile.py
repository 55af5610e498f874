"""Docker's json-file entries made into records: split lines joined, long ones cut, bad bytes and
bad lines survived. Pure: tables of entries in, records out."""

from __future__ import annotations

import json

import pytest

from dockyard.domain.errors import Invalid
from dockyard.logs.cut import Bounded, head, marker
from dockyard.logs.framing import Record, Splitter
from dockyard.logs.jsonfile import Entry, Joiner, decode_entry, parse_time

T0 = 1_765_000_000_000_000_000


def entry(log: str, stream: str = "stdout", t: int = T0) -> Entry:
    return Entry(log, stream, t)


def join(entries: list[Entry], limit: int = 32) -> list[Record]:
    joiner = Joiner(limit)
    out: list[Record] = []
    for end, one in enumerate(entries, start=1):
        out.extend(joiner.add(one, inode=7, end=end * 10))
    held = joiner.flush(inode=7, end=999)
    return out + ([held] if held else [])


JOINS: list[tuple[str, list[Entry], list[tuple[str, str, int, int]]]] = [
    ("a whole line is one record", [entry("hello\n")], [("stdout", "hello", 0, 10)]),
    ("an empty line stays a line", [entry("\n")], [("stdout", "", 0, 10)]),
    (
        "parts of a split line are joined, the time of the first",
        [entry("ab", t=1), entry("cd", t=2), entry("ef\n", t=3)],
        [("stdout", "abcdef", 0, 30)],
    ),
    (
        "a joined line past the limit is cut with a marker",
        [entry("x" * 20), entry("y" * 20), entry("z" * 20 + "\n")],
        [("stdout", "x" * 20 + "y" * 12 + marker(28), 28, 30)],
    ),
    (
        "the newline alone past the limit is no cut",
        [entry("x" * 20), entry("y" * 12 + "\n")],
        [("stdout", "x" * 20 + "y" * 12, 0, 20)],
    ),
    (
        "a part of the other stream ends the parts held as they are",
        [entry("ab"), entry("err\n", "stderr")],
        [("stdout", "ab", 0, 20), ("stderr", "err", 0, 20)],
    ),
    (
        "a last line without newline is flushed when the container stops",
        [entry("one\n"), entry("tw"), entry("o")],
        [("stdout", "one", 0, 10), ("stdout", "two", 0, 999)],
    ),
    (
        "a character cut in two at the limit is left out whole",
        [entry("x" * 31), entry("é\n")],
        [("stdout", "x" * 31 + marker(2), 2, 20)],
    ),
]


@pytest.mark.parametrize(("entries", "want"), [c[1:] for c in JOINS], ids=[c[0] for c in JOINS])
def test_joiner_makes_records(entries: list[Entry], want: list[tuple[str, str, int, int]]) -> None:
    got = [(r.stream, r.text, r.cut, r.end) for r in join(entries)]
    assert got == want


def test_joined_record_keeps_the_first_parts_time() -> None:
    (record,) = join([entry("a", t=5), entry("b\n", t=9)])
    assert record.time_ns == 5


def test_gigabytes_without_newline_hold_only_the_limit() -> None:
    joiner = Joiner(1024)
    piece = entry("z" * 16384)
    for _ in range(2000):  # 32 MiB of one line
        assert joiner.add(piece, inode=1, end=1) == []
    assert joiner._parts.size == 2000 * 16384  # counted ...
    assert len(joiner._parts.kept()) == 1024  # ... not kept
    (record,) = joiner.add(entry("\n"), inode=1, end=2)
    assert record.cut == 2000 * 16384 - 1024
    assert record.text.endswith(marker(record.cut))


DECODES: list[tuple[str, bytes, Entry]] = [
    (
        "Docker's own entry",
        b'{"log":"hi\\n","stream":"stderr","time":"2026-12-06T17:54:38.123456789Z"}',
        Entry("hi\n", "stderr", 1_796_579_678_123_456_789),
    ),
    (
        "invalid UTF-8 becomes U+FFFD",
        b'{"log":"a\xff\xfeb\\n","stream":"stdout","time":"2026-12-06T17:54:38Z"}',
        Entry("a\ufffd\ufffdb\n", "stdout", 1_796_579_678_000_000_000),
    ),
    (
        "no time: the time it was read",
        b'{"log":"x\\n","stream":"stdout"}',
        Entry("x\n", "stdout", 42),
    ),
    (
        "an unreadable time: the time it was read",
        b'{"log":"x\\n","stream":"stdout","time":"yesterday"}',
        Entry("x\n", "stdout", 42),
    ),
]


@pytest.mark.parametrize(("raw", "want"), [c[1:] for c in DECODES], ids=[c[0] for c in DECODES])
def test_decode_entry(raw: bytes, want: Entry) -> None:
    assert decode_entry(raw, now_ns=42) == want


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1,2]", b'{"stream":"stdout"}', b'{"log":3}'])
def test_decode_refuses_what_is_not_an_entry(raw: bytes) -> None:
    with pytest.raises(Invalid):
        decode_entry(raw, now_ns=0)


TIMES = [
    ("2026-12-06T17:54:38.123456789Z", 1_796_579_678_123_456_789),
    ("2026-12-06T17:54:38.5Z", 1_796_579_678_500_000_000),
    ("2026-12-06T17:54:38Z", 1_796_579_678_000_000_000),
    ("2026-12-06T18:54:38.000000001+01:00", 1_796_579_678_000_000_001),
]


@pytest.mark.parametrize(("text", "want"), TIMES)
def test_parse_time_keeps_nanoseconds(text: str, want: int) -> None:
    assert parse_time(text) == want


def test_round_trip_of_a_json_encoded_entry_is_exact() -> None:
    raw = json.dumps(
        {"log": 'tab\t"quote" ü\n', "stream": "stdout", "time": "2026-12-06T00:00:00Z"}
    )
    assert decode_entry(raw.encode(), now_ns=0).log == 'tab\t"quote" ü\n'


SPLITS: list[
    tuple[str, list[bytes], list[tuple[bytes, int, int]], tuple[bytes, int, int] | None]
] = [
    ("lines in one chunk", [b"a\nbb\n"], [(b"a", 0, 2), (b"bb", 0, 5)], None),
    ("a line across chunks", [b"ab", b"c\nd"], [(b"abc", 0, 4)], (b"d", 0, 5)),
    ("a long line is cut", [b"0123456789", b"abc\n"], [(b"01234567", 5, 14)], None),
    ("a long unfinished line holds the limit", [b"0123456789" * 3], [], (b"01234567", 22, 30)),
]


@pytest.mark.parametrize(
    ("chunks", "lines", "held"), [c[1:] for c in SPLITS], ids=[c[0] for c in SPLITS]
)
def test_splitter(
    chunks: list[bytes],
    lines: list[tuple[bytes, int, int]],
    held: tuple[bytes, int, int] | None,
) -> None:
    splitter = Splitter(8)
    got: list[tuple[bytes, int, int]] = []
    start = 0
    for chunk in chunks:
        got.extend((r.data, r.cut, r.end) for r in splitter.feed(chunk, start))
        start += len(chunk)
    assert got == lines
    rest = splitter.flush()
    assert (None if rest is None else (rest.data, rest.cut, rest.end)) == held


CUTS = [
    ("fits", b"abc", 8, b"abc"),
    ("cut at a character boundary", b"ab\xc3\xa9", 3, b"ab"),
    ("cut inside a 4-byte character", b"a\xf0\x9f\x98\x80", 3, b"a"),
]


@pytest.mark.parametrize(("data", "limit", "want"), [c[1:] for c in CUTS], ids=[c[0] for c in CUTS])
def test_head_never_splits_a_character(data: bytes, limit: int, want: bytes) -> None:
    assert head(data, limit) == want


def test_bounded_counts_what_it_drops() -> None:
    text = Bounded(4)
    for part in (b"ab", b"cdef", b"gh"):
        text.add(part)
    assert (text.kept(), text.cut, text.text()) == (b"abcd", 4, "abcd" + marker(4))


def test_feed_reads_each_lines_own_time_whatever_its_neighbours() -> None:
    """Lines sharing a second are read without the parser; a 30-character time of another
    form in between, and a line with white space around its object, read as they are."""
    times = [
        "2026-12-06T17:54:38.000000001Z",
        "2026-12-06T17:54:38.000000002Z",
        "2026-12-06T17:54:38.1234+01:00",
        "2026-12-06T17:54:39.000000003Z",
    ]
    raws = [json.dumps({"log": f"{i}\n", "stream": "stdout", "time": t}).encode()
            for i, t in enumerate(times)]  # fmt: skip
    raws.append(b' {"log":"4\\n","time":"2026-12-06T17:54:38.000000005Z"} ')
    splitter = Splitter(1 << 20)
    lines = splitter.feed(b"\n".join(raws) + b"\n", 0)
    records, malformed = Joiner(16 * 1024).feed(lines, inode=1, now_ns=7)
    assert malformed == 0
    assert [r.text for r in records] == ["0", "1", "2", "3", "4"]
    assert [r.time_ns for r in records] == [parse_time(t) for t in times] + [
        parse_time("2026-12-06T17:54:38.000000005Z")
    ]
    assert [r.end for r in records] == [
        sum(len(raw) + 1 for raw in raws[: i + 1]) for i in range(len(raws))
    ]
