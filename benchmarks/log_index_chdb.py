"""chdb (ClickHouse in-process) as a third candidate in benchmarks/log_index.py, for the
benchmark only: chdb is not a Dockyard dependency (`pip install chdb` to include it).

One MergeTree table partitioned by UTC day and ordered by (team, service, time_ns), with
ClickHouse's `text` index (an inverted index, tokens split at non-letters) on the line's text,
so a word is `hasToken` and a phrase is its tokens plus a substring check. It answers the
benchmark's searches through the same method as a LogIndex; it does not keep the seam's
whole contract (no cursor, no per-source marks, case-sensitive words).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockyard.logs.index.base import Filters, Hit, Page
from dockyard.logs.level import level_of
from dockyard.logs.query import Query
from dockyard.logs.record import Batch

TABLE = """
CREATE TABLE IF NOT EXISTS default.line (
    team LowCardinality(String), service LowCardinality(String), env LowCardinality(String),
    instance LowCardinality(String), channel LowCardinality(String),
    stream LowCardinality(String), seq UInt64, time_ns Int64, level LowCardinality(String),
    text String, INDEX text_index text TYPE text(tokenizer = splitByNonAlpha))
ENGINE = MergeTree PARTITION BY toDate(intDiv(time_ns, 1000000000))
ORDER BY (team, service, time_ns)
"""
COLUMNS = "team, service, env, instance, channel, stream, seq, time_ns, level, text"


class ChdbTable:
    def __init__(self, root: Path) -> None:
        session = importlib.import_module("chdb.session")  # optional: only here, untyped

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._session: Any = session.Session(str(root))
        self._session.query(TABLE)
        self._staged: list[Batch] = []

    def add(self, batches: Sequence[Batch]) -> None:
        self._staged.extend(batches)

    def commit(self) -> None:
        lines = [(b.source, line) for b in self._staged for line in b.lines]
        columns = {  # noqa: F841 - read by name by chdb's Python() table function
            "team": [s.team for s, _ in lines],
            "service": [s.service for s, _ in lines],
            "env": [str(s.env) for s, _ in lines],
            "instance": [s.instance for s, _ in lines],
            "channel": [s.channel for s, _ in lines],
            "stream": [ln.stream for _, ln in lines],
            "seq": [ln.seq for _, ln in lines],
            "time_ns": [ln.time_ns for _, ln in lines],
            "level": [level_of(ln.text) for _, ln in lines],
            "text": [ln.text for _, ln in lines],
        }
        self._session.query(f"INSERT INTO default.line SELECT {COLUMNS} FROM Python(columns)")
        self._staged.clear()

    def search(self, filters: Filters, query: Query, *, limit: int = 100) -> Page:
        where = [
            f"{name} = {_quote(getattr(filters, name))}"
            for name in ("team", "service", "env")
            if getattr(filters, name) is not None
        ]
        for term in query.terms:
            found = " AND ".join(f"hasToken(text, {_quote(t)})" for t in term.tokens)
            if term.phrase:
                found += f" AND position(text, {_quote(' '.join(term.tokens))}) > 0"
            where.append(f"NOT ({found})" if term.negated else f"({found})")
        sql = f"SELECT {COLUMNS} FROM default.line"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY time_ns DESC, instance DESC, channel DESC, seq DESC LIMIT {limit}"
        rows = self._session.query(sql, "JSONCompactEachRow").bytes().decode().splitlines()
        return Page(tuple(Hit(*json.loads(row)) for row in rows), None)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def days(self) -> tuple[str, ...]:
        result = self._session.query(
            "SELECT DISTINCT partition FROM system.parts WHERE table = 'line' AND active",
            "JSONCompactEachRow",
        )
        return tuple(sorted(json.loads(r)[0] for r in result.bytes().decode().splitlines()))

    def close(self) -> None:
        self._session.close()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
