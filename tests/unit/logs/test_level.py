"""A line's level, by table: JSON field, then the service's pattern, then the default words."""

from __future__ import annotations

import re

import pytest

from dockyard.logs.level import level_of

CASES = [
    ("json level", '{"level":"error","msg":"boom"}', None, "error"),
    ("json severity", '{"severity":"WARNING","msg":"x"}', None, "warn"),
    ("json lvl", '{"lvl":"dbg"}', None, "debug"),
    ("json pino number", '{"level":50,"msg":"x"}', None, "error"),
    ("json without a level", '{"msg":"ERROR in text"}', None, "error"),
    ("broken json falls back", '{"level": ERROR', None, "error"),
    ("json array", "[1, 2]", None, ""),
    ("word after a timestamp", "2026-12-06 10:00:01 ERROR db down", None, "error"),
    ("bracketed word", "[WARN] disk at 91%", None, "warn"),
    ("bracketed lower case", "12:00 [error] boom", None, "error"),
    ("WARNING is warn", "WARNING: deprecated", None, "warn"),
    ("FATAL", "FATAL cannot start", None, "fatal"),
    ("logfmt", 'time=1 level=info msg="ok"', None, "info"),
    ("logfmt quoted", 'level="debug" msg=x', None, "debug"),
    ("lower-case word is message text", "user said error happened", None, ""),
    ("word deep in the line is ignored", "x" * 90 + " ERROR", None, ""),
    ("word inside another word", "NOERRORS here", None, ""),
    ("dotted name is not a level", "com.INFO.thing started", None, ""),
    ("nothing", "hello world", None, ""),
    ("CRITICAL by its CRIT", "CRITICAL: out of memory", None, "fatal"),
    ("ERR alone", "ERR timeout", None, "error"),
    ("logfmt upper case key", "LEVEL=WARN x", None, "warn"),
    ("brackets without a level, then a word", "[main] NOTICE started", None, "info"),
    ("pattern with a level group", "E1206 boom", re.compile(r"^(?P<level>[EWID])\d{4}"), ""),
    ("pattern first group", "<err> boom", re.compile(r"^<(\w+)>"), "error"),
    ("pattern not matching falls back", "INFO ok", re.compile(r"^<(\w+)>"), "info"),
    ("json wins over pattern", '{"level":"info"}', re.compile(r"(info)"), "info"),
]


@pytest.mark.parametrize(("name", "text", "pattern", "expected"), CASES, ids=[c[0] for c in CASES])
def test_level_of(name: str, text: str, pattern: re.Pattern[str] | None, expected: str) -> None:
    assert level_of(text, pattern) == expected
