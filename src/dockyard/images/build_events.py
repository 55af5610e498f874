"""Wakes the readers following a build's log when this process's builder writes to it.

Readers poll the database anyway (a build may run in another server); within one process this
saves them the polling interval: the log's new text, and the build's end, are seen at once.
`changed` may be called from any thread; `wait` runs on the reader's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class BuildEvents:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def changed(self, build_id: int) -> None:
        """Build `build_id`'s log or state changed: wake whoever waits for it."""
        with self._lock:
            waiters = list(self._waiting.get(build_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    async def wait(self, build_id: int, *, timeout_s: float) -> bool:
        """Return True once build `build_id` changed, False after `timeout_s` without."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(build_id, set()).add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout=timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                found = self._waiting.get(build_id)
                if found is not None:
                    found.discard(entry)
                    if not found:
                        del self._waiting[build_id]
