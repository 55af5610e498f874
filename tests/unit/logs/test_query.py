"""The log query language, by table: text -> parsed query, or the problem Invalid names."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.logs.query import MAX_QUERY_CHARS, MAX_TERMS, Query, Term, parse, tokens

W = Term  # a positive term


def N(  # noqa: N802 - reads as a table column, like W
    *words: str,
) -> Term:
    return Term(tuple(words), negated=True)


PARSED = [
    ("empty", "", Query()),
    ("blank", "   ", Query()),
    ("one word", "timeout", Query((W(("timeout",)),))),
    ("words are lower-cased", "TimeOut", Query((W(("timeout",)),))),
    ("two words", "db timeout", Query((W(("db",)), W(("timeout",))))),
    ("phrase", '"connection reset"', Query((W(("connection", "reset")),))),
    ("punctuation splits a word", "db.example-1", Query((W(("db", "example", "1")),))),
    ("underscore splits too", "user_id", Query((W(("user", "id")),))),
    ("exclusion", "error -health", Query((W(("error",)), N("health")))),
    ("excluded phrase", '-"GET /health"', Query((N("get", "health"),))),
    ("level", "level:error", Query(levels=("error",))),
    ("level alias", "level:WARNING", Query(levels=("warn",))),
    ("two levels", "level:error level:fatal", Query(levels=("error", "fatal"))),
    ("stream", "stream:stderr boom", Query((W(("boom",)),), streams=("stderr",))),
    ("quoted field is text", '"level:error"', Query((W(("level", "error")),))),
    ("clock times are text", "12:30", Query((W(("12", "30")),))),
    ("dash inside a word", "foo-bar", Query((W(("foo", "bar")),))),
    ("quote right after a word", 'a"b c"', Query((W(("a",)), W(("b", "c"))))),
    ("unicode letters", "Größe", Query((W(("größe",)),))),
]


@pytest.mark.parametrize(("name", "text", "expected"), PARSED, ids=[c[0] for c in PARSED])
def test_parse(name: str, text: str, expected: Query) -> None:
    assert parse(text) == expected


REFUSED = [
    ("unclosed quote", '"connection reset', "never closed"),
    ("unclosed quote after words", 'ok "x', "character 4"),
    ("lone dash", "error -", "excludes nothing"),
    ("dash then space", "- error", "excludes nothing"),
    ("excluded punctuation", "error -!!", "excludes no letters"),
    ("only punctuation", "!!!", "searches for no letters"),
    ("empty phrase", '""', "searches for no letters"),
    ("unknown field", "host:web1", "unknown field 'host'"),
    ("url needs quotes", "http://x", "put the text in quotes"),
    ("empty level", "level:", "needs a value"),
    ("unknown level", "level:loud", "unknown level 'loud'"),
    ("excluded field", "-level:debug", "excludes a field"),
    ("too long", "a" * (MAX_QUERY_CHARS + 1), "characters long"),
    ("too many terms", "w " * (MAX_TERMS + 1), "use at most"),
]


@pytest.mark.parametrize(("name", "text", "problem"), REFUSED, ids=[c[0] for c in REFUSED])
def test_malformed_query_is_invalid_naming_the_problem(name: str, text: str, problem: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse(text)
    assert problem in caught.value.message
    assert caught.value.field == "q"


def test_tokens_match_what_the_engines_index() -> None:
    assert tokens("GET /api/v1?id=42 ok_done") == ("get", "api", "v1", "id", "42", "ok", "done")
