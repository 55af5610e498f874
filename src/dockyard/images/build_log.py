"""A running build's log, written to the database in pieces as it grows.

Text is buffered and written at most every `interval_s` (or once `max_buffer` characters wait),
each piece in its own short transaction, so readers following the log see it within a fraction
of a second and a crash loses at most that fraction. The last lines are also kept in memory:
a failed build's reason ends with them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.orm import Session

from dockyard.store import builds
from dockyard.store.db import Database

TAIL_LINES = 20


class BuildLog:
    """The log of build `build_id`. Thread-safe; call `flush()` once the build ends."""

    def __init__(
        self,
        db: Database,
        build_id: int,
        *,
        interval_s: float = 0.25,
        max_buffer: int = 64 * 1024,
        monotonic: Callable[[], float] = time.monotonic,
        changed: Callable[[int], None] = lambda _build_id: None,
    ) -> None:
        self._db = db
        self._build_id = build_id
        self._interval_s = interval_s
        self._max_buffer = max_buffer
        self._monotonic = monotonic
        self._changed = changed
        self._lock = threading.Lock()
        self._buffer: list[str] = []
        self._buffered = 0
        self._written = 0
        self._seq = 0
        self._last_flush = monotonic()
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = ""

    def write(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._buffer.append(text)
            self._buffered += len(text)
            self._keep_tail(text)
            due = self._monotonic() - self._last_flush >= self._interval_s
            if due or self._buffered >= self._max_buffer:
                self._flush_locked()

    def line(self, text: str) -> None:
        """Write `text` as one line of Dockyard's own (prefixed, so it stands out)."""
        self.write(f"==> {text}\n")

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def finish(self, action: Callable[[Session], None]) -> None:
        """Write what is left of the log and run `action` in the same transaction."""
        with self._lock:
            self._flush_locked(also=action)

    def tail(self) -> str:
        """The last lines written (up to 20)."""
        with self._lock:
            lines = [*self._tail, self._partial] if self._partial else list(self._tail)
        return "\n".join(line.rstrip() for line in lines if line.strip())

    def _keep_tail(self, text: str) -> None:
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        self._tail.extend(pieces)

    def _flush_locked(self, *, also: Callable[[Session], None] | None = None) -> None:
        self._last_flush = self._monotonic()
        if not self._buffer and also is None:
            return
        text = "".join(self._buffer)
        with self._db.session() as session:
            if text:
                builds.append_log(
                    session, self._build_id, seq=self._seq, start=self._written, text=text
                )
            if also is not None:
                also(session)
        self._seq += 1 if text else 0
        self._written += len(text)
        self._buffer.clear()
        self._buffered = 0
        self._changed(self._build_id)
