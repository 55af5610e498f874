"""The SQL of one FTS5 partition (logs/index/fts5.py): its schema, and the statement that
answers a search in it, with every filter that can be a token inside MATCH.

Text tokens are letters and digits only (logs/query.py), so quoting them in MATCH is safe.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.logs.index.base import Filters, Key, Order
from dockyard.logs.query import Query, Term

SCHEMA = """
CREATE TABLE IF NOT EXISTS source (
    id INTEGER PRIMARY KEY, team TEXT NOT NULL, service TEXT NOT NULL, env TEXT NOT NULL,
    instance TEXT NOT NULL, channel TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS line (
    id INTEGER PRIMARY KEY, source INTEGER NOT NULL, seq INTEGER NOT NULL,
    time_ns INTEGER NOT NULL, stream TEXT NOT NULL, level TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS line_time ON line(time_ns);
CREATE INDEX IF NOT EXISTS line_seq ON line(source, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS line_fts USING fts5(
    text, tags, content='', columnsize=0);
CREATE TABLE IF NOT EXISTS mark (source TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
"""

_COLUMNS = (
    "s.team, s.service, s.env, s.instance, s.channel, l.stream, l.seq, l.time_ns, l.level, l.text"
)


@dataclass(frozen=True)
class Select:
    sql: str
    args: tuple[object, ...]


def select(
    db: sqlite3.Connection,
    filters: Filters,
    query: Query,
    *,
    after: Key | None = None,
    order: Order = Order.NEWEST,
    limit: int = 100,
    count: bool = False,
) -> Select | None:
    """The statement for `filters` and `query` in partition `db`; None if it can hold no hit."""
    sources = _sources(db, filters)
    if sources == ():
        return None
    where, args = _where(filters, after, order)
    if query.terms:
        # Text: every filter becomes a token inside MATCH, intersected by the engine.
        head = "FROM line_fts f CROSS JOIN line l ON l.id = f.rowid"
        where, args = ["line_fts MATCH ?", *where], [_match(filters, query, sources), *args]
    else:
        # No text: walk the time index and check each row's columns; a page stops early.
        head = "FROM line l"
        more, extra = _columns(filters, query, sources)
        where, args = [*where, *more], [*args, *extra]
    head += " CROSS JOIN source s ON s.id = l.source"
    clause = " WHERE " + " AND ".join(where) if where else ""
    if count:
        return Select(f"SELECT count(*) {head}{clause}", tuple(args))
    way = "DESC" if order is Order.NEWEST else "ASC"
    sort = ", ".join(f"{c} {way}" for c in ("l.time_ns", "s.instance", "s.channel", "l.seq"))
    sql = f"SELECT {_COLUMNS} {head}{clause} ORDER BY {sort} LIMIT ?"
    return Select(sql, (*args, limit))


def _sources(db: sqlite3.Connection, filters: Filters) -> tuple[int, ...] | None:
    """Ids of the sources the filters allow, or None when they allow every source."""
    conditions: list[str] = []
    args: list[object] = []
    for column in ("team", "service", "env"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            args.append(value)
    if filters.instances:
        conditions.append(f"instance IN ({','.join('?' * len(filters.instances))})")
        args.extend(filters.instances)
    if not conditions:
        return None
    try:
        where = " AND ".join(conditions)  # fixed column names; the values are parameters
        rows = db.execute(f"SELECT id FROM source WHERE {where}", args)  # noqa: S608
        return tuple(int(r[0]) for r in rows)
    except sqlite3.OperationalError:  # the writer is creating this partition right now
        return ()


def _match(filters: Filters, query: Query, sources: tuple[int, ...] | None) -> str:
    """The MATCH expression for a query with at least one term."""
    parts: list[str] = []
    if sources is not None:
        parts.append(_any(f"q{s}" for s in sources))
    for streams in (filters.streams, query.streams):
        if streams:
            parts.append(_any(f"o{s.encode().hex()}" for s in streams))
    for levels in (filters.levels, query.levels):
        if levels:
            parts.append(_any(f"l{level or 'none'}" for level in levels))
    parts.extend(_text(t) for t in query.positive)
    expression = " AND ".join(parts) if parts else "tags : all"
    if query.negative:
        expression = f"({expression}) NOT ({' OR '.join(_text(t) for t in query.negative)})"
    return expression


def _any(tokens: Iterable[str]) -> str:
    return "tags : (" + " OR ".join(tokens) + ")"


def _columns(
    filters: Filters, query: Query, sources: tuple[int, ...] | None
) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    groups = (
        ("l.source", sources or ()),
        ("l.stream", filters.streams),
        ("l.stream", query.streams),
        ("l.level", filters.levels),
        ("l.level", query.levels),
    )
    for column, values in groups:
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(values)
    return where, args


def _text(term: Term) -> str:
    return 'text : "' + " ".join(term.tokens) + '"'


def _where(filters: Filters, after: Key | None, order: Order) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if filters.since_ns is not None:
        where.append("l.time_ns >= ?")
        args.append(filters.since_ns)
    if filters.until_ns is not None:
        where.append("l.time_ns < ?")
        args.append(filters.until_ns)
    if after is not None:
        sign = "<" if order is Order.NEWEST else ">"
        where.append(f"(l.time_ns, s.instance, s.channel, l.seq) {sign} (?, ?, ?, ?)")
        args.extend(after)
    return where, args
