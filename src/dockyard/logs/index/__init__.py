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


def open_engine(engine: str, root: Path) -> LogIndex:
    """The index of engine `engine` kept under `root` (made if missing)."""
    if engine == "fts5":
        from dockyard.logs.index.fts5 import Fts5Index

        return Fts5Index(root)
    if engine == "tantivy":
        from dockyard.logs.index.tantivy_index import TantivyIndex

        return TantivyIndex(root)
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
