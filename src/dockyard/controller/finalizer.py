"""The logs finalizer: a container goes only once the agent has shipped its console log and
declared files to their end, since Docker deletes the console's file with the container and the
runtime the declared files' directory. The wait is bounded: a missing agent must not keep
containers forever, so the caller reports an expired wait as possible loss."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LogsShipped = Callable[[str], bool]
"""Whether the agent has shipped instance `id`'s console log and declared log files to their
end (blocking; a cheap read)."""


class LogsFinalizer:
    def __init__(self, shipped: LogsShipped | None, *, wait_s: float, poll_s: float) -> None:
        self._shipped = shipped
        self._wait_s = wait_s
        self._poll_s = poll_s

    @property
    def wait_s(self) -> float:
        return self._wait_s

    async def wait(self, instance_id: str) -> bool:
        """Wait until the instance's logs are shipped. True once they are (or when no agent
        marks are known to this controller); False when `wait_s` ran out first. Only call it
        for a stopped instance: a running one keeps writing, so it is never marked shipped."""
        if self._shipped is None:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while not await asyncio.to_thread(self._shipped, instance_id):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(self._poll_s)
        return True
