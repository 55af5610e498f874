"""The tantivy schema of a partition (logs/index/tantivy_index.py) and the queries that
answer a search: filters as raw-term clauses, text terms as term or phrase queries."""

from __future__ import annotations

from collections.abc import Sequence

import tantivy

from dockyard.logs.index.base import Filters, Order
from dockyard.logs.query import Query as Parsed
from dockyard.logs.query import Term

RAW = ("kind", "mark", "team", "service", "env", "instance", "channel", "stream", "level")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in RAW:
        builder.add_text_field(
            name, stored=name != "kind", tokenizer_name="raw", index_option="basic"
        )
    builder.add_integer_field("seq", stored=True, indexed=True, fast=True)
    builder.add_integer_field("time_ns", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", stored=True, tokenizer_name="default", index_option="position")
    return builder.build()


SCHEMA = _schema()
MUST, SHOULD, NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot


class Where:
    """The tantivy queries for one search's filters and parsed query."""

    def __init__(self, filters: Filters, query: Parsed) -> None:
        clauses = [(MUST, _term("kind", "line"))]
        for name in ("team", "service", "env"):
            value = getattr(filters, name)
            if value is not None:
                clauses.append((MUST, _term(name, value)))
        for name, values in (
            ("instance", filters.instances),
            ("stream", filters.streams),
            ("stream", query.streams),
            ("level", filters.levels),
            ("level", query.levels),
        ):
            if values:
                clauses.append((MUST, _any(name, [v or "none" for v in values])))
        clauses.extend((MUST, _text(t)) for t in query.positive)
        clauses.extend((NOT, _text(t)) for t in query.negative)
        self._clauses = clauses
        self._filters = filters

    def lines(
        self, *, beyond: int | None = None, order: Order = Order.NEWEST, at: int | None = None
    ) -> tantivy.Query:
        """Matching lines; `beyond`: only strictly newer/older (by `order`) than that time;
        `at`: only lines of exactly that time."""
        low, high = self._filters.since_ns, self._filters.until_ns
        if high is not None:
            high -= 1  # until is exclusive
        if beyond is not None:
            if order is Order.NEWEST:
                high = beyond - 1 if high is None else min(high, beyond - 1)
            else:
                low = beyond + 1 if low is None else max(low, beyond + 1)
        if at is not None:
            low, high = (
                max(at, low if low is not None else at),
                min(at, high if high is not None else at),
            )
        clauses = list(self._clauses)
        if low is not None or high is not None:
            if low is not None and high is not None and low > high:
                return tantivy.Query.empty_query()
            clauses.append((MUST, _range("time_ns", low, high)))
        return tantivy.Query.boolean_query(clauses)

    @staticmethod
    def marks() -> tantivy.Query:
        return _term("kind", "mark")

    @staticmethod
    def around(instance: str, channel: str, first: int, last: int) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (MUST, _term("kind", "line")),
                (MUST, _term("instance", instance)),
                (MUST, _term("channel", channel)),
                (MUST, _range("seq", first, last)),
            ]
        )


def _term(name: str, value: str) -> tantivy.Query:
    return tantivy.Query.term_query(SCHEMA, name, value, index_option="basic")


def _any(name: str, values: Sequence[str]) -> tantivy.Query:
    return tantivy.Query.term_set_query(SCHEMA, name, list(values))


def _text(term: Term) -> tantivy.Query:
    if term.phrase:
        return tantivy.Query.phrase_query(SCHEMA, "text", list(term.tokens))
    return tantivy.Query.term_query(SCHEMA, "text", term.tokens[0])


def _range(name: str, low: int | None, high: int | None) -> tantivy.Query:
    return tantivy.Query.range_query(SCHEMA, name, tantivy.FieldType.Integer, low, high, True, True)
