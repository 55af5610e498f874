"""Build logs as log-center lines: which text is a line yet, how lines are numbered and cut, and
the source a build's lines come from."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.logs import wire
from dockyard.logs.build_lines import (
    BUILD_CHANNEL,
    MAX_BATCH_BYTES,
    MAX_BATCH_LINES,
    Shipped,
    build_instance,
    build_number,
    build_source,
    complete_lines,
    shown,
    to_batches,
)
from dockyard.logs.cut import marker
from dockyard.logs.record import BUILD_ENV, parse_env
from dockyard.logs.retention import parse_days

SOURCE = build_source(team="shop", service="web", number=7, build_id=41)


@pytest.mark.parametrize(
    ("text", "done", "lines", "used"),
    [
        ("", False, [], 0),
        ("", True, [], 0),
        ("a\nb\n", False, ["a", "b"], 4),
        ("a\nb", False, ["a"], 2),  # "b" may go on: it waits
        ("a\nb", True, ["a", "b"], 3),  # the build ended: "b" is its last line
        ("half", False, [], 0),
        ("a\n\nb\n", False, ["a", "", "b"], 5),
    ],
)
def test_only_newline_terminated_text_is_a_line_until_the_build_ends(
    text: str, done: bool, lines: list[str], used: int
) -> None:
    assert complete_lines(text, done=done) == (lines, used)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("plain", "plain"),
        ("ends with spaces  \r", "ends with spaces"),
        ("10%\r50%\r100%", "100%"),
        ("\r", ""),
    ],
)
def test_a_line_reads_as_a_terminal_shows_it(raw: str, text: str) -> None:
    assert shown(raw) == text


def test_lines_are_numbered_on_from_the_checkpoint_and_blank_ones_left_out() -> None:
    batches, after = to_batches(
        SOURCE, "one\n\ntwo\nthr", Shipped(offset=100, seq=4), done=False, time_ns=5,
        max_line_bytes=1024,
    )  # fmt: skip
    assert [(ln.seq, ln.text, ln.stream, ln.time_ns) for b in batches for ln in b.lines] == [
        (5, "one", "stdout", 5),
        (6, "two", "stdout", 5),
    ]
    assert after == Shipped(offset=100 + len("one\n\ntwo\n"), seq=6)


def test_the_same_text_cut_again_gives_the_same_numbers_and_message_ids() -> None:
    text = "".join(f"line {n}\n" for n in range(50))
    first, _ = to_batches(SOURCE, text, Shipped(), done=True, time_ns=1, max_line_bytes=1024)
    again, _ = to_batches(SOURCE, text, Shipped(), done=True, time_ns=2, max_line_bytes=1024)
    assert [b.msg_id for b in first] == [b.msg_id for b in again]
    assert [ln.seq for b in again for ln in b.lines] == list(range(1, 51))


def test_an_overlong_line_is_cut_and_says_how_much_it_lost() -> None:
    batches, _ = to_batches(
        SOURCE, "é" * 10 + "\n", Shipped(), done=False, time_ns=1, max_line_bytes=5
    )
    (line,) = batches[0].lines
    assert line.text == "éé" + marker(16)  # never half a character: 4 bytes kept, 16 cut
    assert line.cut == 16


def test_batches_stay_within_the_line_and_byte_bounds() -> None:
    many = "x\n" * (MAX_BATCH_LINES + 1)
    batches, _ = to_batches(SOURCE, many, Shipped(), done=True, time_ns=1, max_line_bytes=64)
    assert [len(b.lines) for b in batches] == [MAX_BATCH_LINES, 1]
    wide = ("y" * 60_000 + "\n") * 10
    batches, _ = to_batches(SOURCE, wide, Shipped(), done=True, time_ns=1, max_line_bytes=65_536)
    assert len(batches) > 1
    assert all(len(b.encode()) <= MAX_BATCH_BYTES for b in batches)


def test_a_build_is_a_source_of_its_own_in_the_build_environment() -> None:
    assert SOURCE.env == BUILD_ENV
    assert SOURCE.channel == BUILD_CHANNEL
    assert SOURCE.subject == "dockyard.logs.shop.web.build.build-7-41"
    assert build_number(build_instance(7, 41)) == 7
    assert build_number("0123456789") is None


def test_a_build_batch_goes_through_the_stream_encoding() -> None:
    batches, _ = to_batches(SOURCE, "hello\n", Shipped(), done=False, time_ns=1, max_line_bytes=9)
    assert wire.decode(batches[0].encode()) == batches[0]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("test", True), ("online", True), ("build", True), ("prod", False), ("BUILD", False)],
)
def test_the_log_environments_are_the_four_and_build(value: str, ok: bool) -> None:
    if ok:
        assert str(parse_env(value)) == value
    else:
        with pytest.raises(Invalid, match="build"):
            parse_env(value)


def test_build_logs_may_have_a_retention_of_their_own() -> None:
    assert parse_days("7,build=3", most=3650).of("build") == 3
