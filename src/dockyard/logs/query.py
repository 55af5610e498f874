"""What a user types to search logs, parsed once into a `Query` every index engine reads.

The language: words (all must match), "quoted phrases", `-word` and `-"phrase"` to exclude,
`level:error` and `stream:stderr` to narrow (several values of one field are alternatives).
Words match whole tokens: a token is a run of letters and digits, compared without case, the
way both engines split the text (so `db.example` is the phrase "db example"). Anything
malformed raises Invalid naming the problem; the API answers it with 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from dockyard.domain.errors import Malformed

MAX_QUERY_CHARS = 1024
"""Longer queries are refused: they are typing accidents or abuse, never a real search."""
MAX_TERMS = 32
"""Text terms (words, phrases, exclusions) in one query: each costs the engine a posting list."""
LEVELS = ("fatal", "error", "warn", "info", "debug", "trace")
"""Every level a line may have, most severe first; a line with none found has level ""."""
FIELDS = ("level", "stream")

_TOKEN = re.compile(r"[^\W_]+")
_PIECE = re.compile(r'(-?)"([^"]*)("?)|([^\s"]+)')
_FIELD = re.compile(r"([A-Za-z_]+):(.*)")


@dataclass(frozen=True)
class Term:
    """One text condition: the tokens must appear in this order, next to each other."""

    tokens: tuple[str, ...]
    negated: bool = False

    @property
    def phrase(self) -> bool:
        return len(self.tokens) > 1


@dataclass(frozen=True)
class Query:
    """A parsed query: every positive term must match, no negated one may, the line's level
    must be one of `levels` and its stream one of `streams` (empty: any)."""

    terms: tuple[Term, ...] = ()
    levels: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)

    @property
    def negative(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.negated)


def tokens(text: str) -> tuple[str, ...]:
    """The searchable tokens of `text`, lower case: runs of letters and digits."""
    return tuple(t.lower() for t in _TOKEN.findall(text))


def parse(text: str) -> Query:
    """The Query in `text`; Malformed (field "q") naming the first problem found."""
    if len(text) > MAX_QUERY_CHARS:
        _fail(f"the query is {len(text)} characters long: keep it under {MAX_QUERY_CHARS}")
    terms: list[Term] = []
    levels: list[str] = []
    streams: list[str] = []
    for match in _PIECE.finditer(text.strip()):
        quoted, bare = match.group(2), match.group(4)
        if quoted is not None:
            if not match.group(3):
                _fail(f'the quote at character {match.start(2)} is never closed: add a "')
            terms.append(_term(quoted, match.group(1) == "-", f'"{quoted}"'))
        elif bare.startswith("-"):
            if bare == "-":
                _fail(
                    f"'-' at character {match.start(4) + 1} excludes nothing: put a word after it"
                )
            if _FIELD.fullmatch(bare[1:]):
                _fail(f"{bare} excludes a field: name the values you want instead ({bare[1:]})")
            terms.append(_term(bare[1:], True, bare[1:]))
        elif field := _FIELD.fullmatch(bare):
            _field(field.group(1).lower(), field.group(2), levels, streams)
        else:
            terms.append(_term(bare, False, bare))
    if len(terms) > MAX_TERMS:
        _fail(f"the query has {len(terms)} words and phrases: use at most {MAX_TERMS}")
    return Query(tuple(terms), tuple(levels), tuple(streams))


def _term(text: str, negated: bool, shown: str) -> Term:
    found = tokens(text)
    if not found:
        what = "-" + shown + " excludes" if negated else shown + " searches for"
        _fail(f"{what} no letters or digits: remove it or quote a word")
    return Term(found, negated)


def _field(name: str, value: str, levels: list[str], streams: list[str]) -> None:
    if name not in FIELDS:
        _fail(
            f"unknown field {name!r}: use {', '.join(f + ':' for f in FIELDS)} "
            f'or put the text in quotes ("{name}:{value}")'
        )
    if not value:
        _fail(f"{name}: needs a value (e.g. {name}:{'error' if name == 'level' else 'stderr'})")
    if name == "stream":
        streams.append(value)
        return
    level = normal_level(value)
    if not level:
        _fail(f"unknown level {value!r}: use one of {', '.join(LEVELS)}")
    levels.append(level)


_ALIASES = {
    "warning": "warn",
    "err": "error",
    "critical": "fatal",
    "crit": "fatal",
    "panic": "fatal",
    "emerg": "fatal",
    "alert": "fatal",
    "notice": "info",
    "information": "info",
    "dbg": "debug",
}


def normal_level(word: str) -> str:
    """`word` as one of LEVELS ("WARNING" -> "warn"), or "" when it names no level."""
    low = word.strip().lower()
    low = _ALIASES.get(low, low)
    return low if low in LEVELS else ""


def _fail(message: str) -> NoReturn:
    raise Malformed(message, field="q")
