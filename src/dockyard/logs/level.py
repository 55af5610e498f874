"""The severity of one log line, found once when the line is indexed and stored with it.

A flood budget's marker line (logs/budget.py) is a warning. Else, in order: a JSON line's `level` /
`severity` / `lvl` field; else the service's own pattern (its `level` group, or its first group);
else a level word (ERROR, WARN, INFO ...) or a logfmt `level=...` near the start of the line. The
answer is one of query.LEVELS, or "" for none.
"""

from __future__ import annotations

import json
import re

from dockyard.logs.budget import is_marker
from dockyard.logs.query import normal_level

JSON_FIELDS = ("level", "severity", "lvl", "log.level", "levelname")
HEAD_CHARS = 80
"""Only the line's head is looked at: a level word deep in a message is its content."""

_WORD = re.compile(
    r"(?<![\w.-])\[?(FATAL|PANIC|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|INFO|NOTICE|DEBUG|TRACE)\]?"
    r"(?![\w.-])"
)
_LOGFMT = re.compile(r"(?<![\w.])(?:level|lvl|severity)=\"?([A-Za-z]+)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[([A-Za-z]+)\]")


def level_of(text: str, pattern: re.Pattern[str] | None = None) -> str:
    """The level of the line `text` (see the module's order), or ""."""
    if text.startswith("…") and is_marker(text):
        return "warn"
    if text.startswith("{"):
        found = _from_json(text)
        if found:
            return found
    if pattern is not None:
        match = pattern.search(text)
        if match is not None:
            return normal_level(_group(match))
    return _from_head(text[:HEAD_CHARS])


def _from_json(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for name in JSON_FIELDS:
        value = body.get(name)
        if isinstance(value, str):
            return normal_level(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return _numeric(value)
    return ""


def _numeric(value: int) -> str:
    """pino/bunyan numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal."""
    names = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
    return names.get(value, "")


def _group(match: re.Match[str]) -> str:
    if "level" in match.re.groupindex:
        return match.group("level") or ""
    return (match.group(1) or "") if match.re.groups else match.group(0)


# What each finder cannot match without (_WORD is case-sensitive): a head lacking it is not
# searched, which spares most lines all three searches (the indexer's hot path).
_NEEDS = (
    (_LOGFMT, ("=",)),
    (_BRACKETED, ("[",)),
    (_WORD, ("FATAL", "PANIC", "CRIT", "ERR", "WARN", "INFO", "NOTICE", "DEBUG", "TRACE")),
)


def _from_head(head: str) -> str:
    for finder, needs in _NEEDS:
        if not any(literal in head for literal in needs):
            continue
        for match in finder.finditer(head):
            level = normal_level(match.group(1))
            if level:
                return level
    return ""
