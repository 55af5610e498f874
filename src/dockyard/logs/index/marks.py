"""Per-source high-water marks of an index: the highest line number held for each source, as
committed (read from the engine's partitions when first needed) and as staged since.

Both engines keep them the same way; only where the committed marks are stored differs (a
table per SQLite partition, documents in each tantivy partition), so the engine passes in how
to read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockyard.logs.record import Batch, Line


class Marks:
    def __init__(self, read: Callable[[], Iterable[tuple[str, int]]]) -> None:
        """`read` yields (source key, number) for every mark the partitions hold; the highest
        number of a key wins (a source's lines may span days)."""
        self._read = read
        self._committed: dict[str, int] | None = None
        self.staged: dict[str, int] = {}

    def held(self, key: str) -> int:
        """The highest number held or staged for source `key`; 0 if none."""
        return self.staged.get(key, self._marks().get(key, 0))

    def fresh(self, batch: Batch) -> tuple[Line, ...]:
        """The lines of `batch` above what is held."""
        high = self.held(batch.source.key)
        return tuple(line for line in batch.lines if line.seq > high)

    def stage(self, key: str, seq: int) -> None:
        self.staged[key] = seq

    def committed(self) -> None:
        """The staged marks are committed now."""
        self._marks().update(self.staged)
        self.staged.clear()

    def reread(self) -> None:
        """Read the committed marks again when next needed (partitions were dropped)."""
        self._committed = None

    def reset(self) -> None:
        """Forget the staged marks and reread the committed ones (after a rollback: a commit
        may have failed half way)."""
        self.staged.clear()
        self.reread()

    def _marks(self) -> dict[str, int]:
        if self._committed is None:
            marks: dict[str, int] = {}
            for key, seq in self._read():
                marks[key] = max(seq, marks.get(key, 0))
            self._committed = marks
        return self._committed
