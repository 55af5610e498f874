"""The agent process (`dockyard agent`, one per host): runs its parts side by side until stopped.

Parts are coroutines that run until cancelled: the IPAM side (agent/ipam.py: Docker's IPAM
driver, segment networks, address collection), the sweep of deleted segments' networks
(agent/segment_sweep.py) and whatever else the host needs (bandwidth limits, metrics, logs),
each added by the composition root (cli/commands/agent.py).

The agent leaves for two reasons only, each logged: a SIGTERM or SIGINT sent to this very
process (a clean stop), or a part that ends, whether it raised or returned (`PartEnded`, so the
process exits non-zero and its supervisor restarts it). A part never returns by design: one that
does has stopped doing its job, and an agent without its IPAM driver must not look healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Mapping
from types import FrameType
from typing import Any

log = logging.getLogger("dockyard.agent")

Part = Coroutine[Any, Any, None]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class PartEnded(Exception):
    """A part of the agent ended: it raised (the cause is chained) or returned."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"agent part {part!r} ended: {reason}")
        self.part = part
        self.reason = reason


async def run_parts(parts: Mapping[str, Part], *, process: str = "agent") -> None:
    """Run every part until a stop signal reaches this process (clean return) or until one
    part ends (PartEnded, chained to the part's own error if it raised). `process` names the
    process in its log lines (the log center's consumers run their parts the same way)."""
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []
    stop = asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stop.set()

    tasks = [asyncio.create_task(part, name=name) for name, part in parts.items()]
    stopper = asyncio.create_task(stop.wait(), name="signal")
    with OwnSignals(loop, on_signal):
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                log.info("%s stopping: %s received", process, received[0].name)
            else:
                _raise_ended(next(task for task in tasks if task in done), process)
        finally:
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
    log.info("%s stopped", process)


def _raise_ended(task: asyncio.Task[Any], process: str) -> None:
    name = task.get_name()
    error = None if task.cancelled() else task.exception()
    if task.cancelled():
        reason = "it was cancelled"
    elif error is None:
        reason = "it returned, but a part must run until the agent stops"
    else:
        reason = f"{type(error).__name__}: {error}"
    log.error("%s part ended part=%s reason=%s", process, name, reason, exc_info=error)
    raise PartEnded(name, reason) from error


class OwnSignals:
    """SIGTERM and SIGINT handlers that act only on signals sent to this very process.

    asyncio's `add_signal_handler` decides by the signal number written to its wake-up socket,
    whoever wrote it. A child forked by a library (pyroute2 forks one to open a socket in another
    network namespace, then ends it with SIGTERM) inherits that socket and the handler, so the
    child's SIGTERM used to stop the agent. Here the decision is made by the Python-level
    handler, which runs in the process the signal reached: in the agent it calls `on_signal`;
    in a forked child it restores the default action and re-raises, so the child ends as its
    parent meant. The wake-up socket only wakes the loop; what is written to it is ignored.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_signal: Callable[[signal.Signals], object]
    ) -> None:
        self._loop = loop
        self._on_signal = on_signal
        self._owner = os.getpid()
        self._reader, self._writer = socket.socketpair()
        self._previous: dict[signal.Signals, Any] = {}
        self._previous_fd: int | None = None

    def __enter__(self) -> OwnSignals:
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._loop.add_reader(self._reader.fileno(), self._drain)
        with contextlib.suppress(ValueError):  # not the main thread (tests): no signals then
            self._previous_fd = signal.set_wakeup_fd(
                self._writer.fileno(), warn_on_full_buffer=False
            )
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if self._previous_fd is not None:
            signal.set_wakeup_fd(self._previous_fd)
        self._loop.remove_reader(self._reader.fileno())
        self._reader.close()
        self._writer.close()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != self._owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self._loop.call_soon_threadsafe(self._on_signal, signal.Signals(signum))

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._reader.recv(4096):
                pass
