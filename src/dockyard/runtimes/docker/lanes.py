"""The threads a runtime makes its blocking engine calls in, by lane, apart from the event
loop's default executor.

The docker SDK blocks, so every engine call takes a thread for as long as the engine takes to
answer: a stop waits out its grace period, a removal waits while the engine retries a gone
IPAM driver. In the loop's default executor (min(32, cpus + 4) threads: 6 on a 2-core host)
a few such calls would hold every thread, and the server's database work, which runs there,
would wait behind them: the API and the controllers would stop answering. So each runtime has
its own bounded lanes: `engine` for the verbs, `ping` for health checks, which must answer
whatever the other lane is doing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

Lane = Literal["engine", "ping"]


class Lanes:
    """A thread pool per lane, made on first use and again after `close`. Thread-safe."""

    def __init__(self, sizes: Mapping[Lane, int]) -> None:
        self._sizes = dict(sizes)
        self._pools: dict[Lane, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        """How many engine calls may be under way at once, all lanes together."""
        return sum(self._sizes.values())

    def get(self, lane: Lane) -> ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(lane)
            if pool is None:
                pool = ThreadPoolExecutor(
                    max_workers=self._sizes[lane], thread_name_prefix=f"dockyard-{lane}"
                )
                self._pools[lane] = pool
            return pool

    def close(self) -> None:
        """Let the threads end once their calls return; later calls get new pools."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=False)
