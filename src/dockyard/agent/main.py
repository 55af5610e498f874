"""The agent process (`dockyard agent`, one per host): runs its parts side by side until stopped.

Parts are coroutines that run until cancelled: the IPAM side (agent/ipam.py: Docker's IPAM
driver, segment networks, address collection), the sweep of deleted segments' networks
(agent/segment_sweep.py) and whatever else the host needs (bandwidth limits, metrics, logs),
each added by the composition root (cli/commands/agent.py). A part that ends with an error
stops the agent, which exits non-zero so its supervisor restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Mapping
from typing import Any

log = logging.getLogger("dockyard.agent")

Part = Coroutine[Any, Any, None]


async def run_parts(parts: Mapping[str, Part]) -> None:
    """Run every part until SIGTERM/SIGINT (clean return) or until one fails (its error)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
            loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(part, name=name) for name, part in parts.items()]
    stopper = asyncio.create_task(stop.wait(), name="signal")
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = None if task is stopper else task.exception()
            if error is not None:
                log.error("agent part failed part=%s", task.get_name())
                raise error
    finally:
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
    log.info("agent stopped")
