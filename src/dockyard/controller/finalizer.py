"""The logs finalizer: a container goes only once the agent has shipped its console log and
declared files to their end, since Docker deletes the console's file with the container and the
runtime the declared files' directory. The wait is bounded: a missing agent must not keep
containers forever, so the caller reports an expired wait as possible loss."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

LogsShipped = Callable[[str], bool]
"""Whether the agent has shipped instance `id`'s console log and declared log files to their
end (blocking; a cheap read)."""
AgentRuns = Callable[[], bool]
"""Whether an agent's log part runs on this host now (blocking; a cheap read)."""


class Finalized(enum.Enum):
    SHIPPED = "shipped"
    """The agent shipped every line (or this controller knows of no agent marks at all)."""
    NO_AGENT = "no_agent"
    """No agent runs here: nobody will ship the last lines, so waiting would only hold up
    the controller."""
    TIMED_OUT = "timed_out"


class LogsFinalizer:
    def __init__(
        self,
        shipped: LogsShipped | None,
        *,
        wait_s: float,
        poll_s: float,
        agent_runs: AgentRuns | None = None,
    ) -> None:
        self._shipped = shipped
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._agent_runs = agent_runs

    @property
    def wait_s(self) -> float:
        return self._wait_s

    async def wait(self, instance_id: str) -> Finalized:
        """Wait until the instance's logs are shipped, at most `wait_s`, and only while an
        agent runs (when that is known). Only call it for a stopped instance: a running one
        keeps writing, so it is never marked shipped."""
        if self._shipped is None:
            return Finalized.SHIPPED
        if self._agent_runs is not None and not await asyncio.to_thread(self._agent_runs):
            if await asyncio.to_thread(self._shipped, instance_id):
                return Finalized.SHIPPED
            return Finalized.NO_AGENT
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while not await asyncio.to_thread(self._shipped, instance_id):
            if loop.time() >= deadline:
                return Finalized.TIMED_OUT
            await asyncio.sleep(self._poll_s)
        return Finalized.SHIPPED
