""".dockerignore, as `docker build` applies it: which files of a context the engine never gets.

The docker CLI applies .dockerignore itself, before it sends the context; the engine does not
(neither builder, given a tar: checked here). Dockyard sends the context from `git archive`,
so it applies the file the same way, or a tracked file a team excluded (docs, test data, an
`.env`) would reach the image.

The rules are those of moby's patternmatcher: one pattern a line, `#` starts a comment line,
`!` makes an exception; a pattern is cleaned like a path and matched against the whole
relative path with Go's `filepath.Match` syntax (`*` and `?` never cross a `/`, `[a-z]`,
`[^a-z]`, `\\` escapes) plus `**`, any number of directories; a pattern that matches a
directory excludes what is under it; the last pattern that matches decides. The Dockerfile
and .dockerignore itself are sent whatever it says, as the CLI sends them.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    text: str
    exception: bool
    regex: re.Pattern[str]


def parse(text: str) -> list[Pattern]:
    """The patterns of a .dockerignore file's text (ValueError for one that is not valid, as
    `docker build` refuses it). Pure."""
    patterns = []
    for raw in text.removeprefix("\ufeff").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        line = posixpath.normpath(line) if line else line
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/") or "/"
        if not line or line == ".":
            continue  # "." would match the context itself: nothing sensible to exclude
        try:
            regex = re.compile(_regex(line))
        except re.error as exc:
            raise ValueError(f".dockerignore pattern {line!r} is not valid: {exc}") from None
        patterns.append(Pattern(line, exception, regex))
    return patterns


def excluded(path: str, patterns: list[Pattern]) -> bool:
    """Whether `path` (relative to the context, `/`-separated) is left out. Pure."""
    path = posixpath.normpath(path.rstrip("/"))
    parents = path.split("/")[:-1]
    matched = False
    for pattern in patterns:
        if pattern.exception != matched:
            continue  # cannot change the outcome
        hit = pattern.regex.fullmatch(path) is not None or any(
            pattern.regex.fullmatch("/".join(parents[: i + 1])) for i in range(len(parents))
        )
        if hit:
            matched = not pattern.exception
    return matched


_ESCAPED = set(".+()|{}$")
"""Characters moby escapes when it turns a pattern into a regular expression (`[`, `]` and `^`
pass through: a character class is one in both)."""


def _regex(pattern: str) -> str:
    """The regular expression moby's patternmatcher makes of `pattern`, for the whole path."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*" and pattern.startswith("*", i):  # some flavour of "**"
            i += 1
            if pattern.startswith("/", i):
                i += 1
            out.append(".*" if i == len(pattern) else "(?:.*/)?")
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char in _ESCAPED:
            out.append("\\" + char)
        elif char == "\\":
            out.append("\\" + pattern[i] if i < len(pattern) else "\\\\")
            i += 1
        else:
            out.append(char)
    return "".join(out)
