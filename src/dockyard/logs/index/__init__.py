"""The log search index: the LogIndex seam (base), day partitions, and one module per engine
(fts5: SQLite FTS5; tantivy_index: tantivy). `open_engine` picks one by name."""

from __future__ import annotations

from pathlib import Path

from dockyard.domain.errors import Invalid
from dockyard.logs.index.base import (
    Added,
    Filters,
    Hit,
    LevelPatterns,
    LogIndex,
    Order,
    Page,
)

ENGINES = ("fts5", "tantivy")


def open_engine(engine: str, index_dir: Path) -> LogIndex:
    """The index of engine `engine` (settings.logs.index_engine) in `index_dir/<engine>`,
    made if missing: switching engines never mixes their files. The indexer and every
    server open it the same way; only the indexer writes."""
    if engine == "fts5":
        from dockyard.logs.index.fts5 import Fts5Index

        return Fts5Index(index_dir / engine)
    if engine == "tantivy":
        from dockyard.logs.index.tantivy_index import TantivyIndex

        return TantivyIndex(index_dir / engine)
    raise Invalid(f"unknown log index engine {engine!r}: use one of {', '.join(ENGINES)}")


__all__ = [
    "ENGINES",
    "Added",
    "Filters",
    "Hit",
    "LevelPatterns",
    "LogIndex",
    "Order",
    "Page",
    "open_engine",
]
