"""The balancer: follows the endpoint feed and keeps HAProxy serving its routes.

Each snapshot (and a tick every `tick_s`, which moves drained slots on to maintenance) is
arranged into the next layout (discovery/balancer_layout.py); the plan between the layout HAProxy
serves and the next one is runtime API commands, or a reload when routes or slots must be added
(discovery/balancer_changes.py). The configuration and map are rewritten on every change, so a
reload or a restart serves exactly what the runtime API had set. A runtime command HAProxy
refuses is not guessed around: the configuration is reloaded instead.

While the server is away the feed yields nothing and HAProxy keeps the last routes (never
emptied because the control plane is gone); a balancer that starts while the server is away
serves the routes the one before it left. HAProxy ending ends `run` with BalancerEnded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from dockyard.discovery.balancer_changes import plan
from dockyard.discovery.balancer_config import Listeners, render, render_map
from dockyard.discovery.balancer_layout import Layout, Shape, arrange
from dockyard.discovery.haproxy import Haproxy, write_atomically
from dockyard.discovery.snapshot import Snapshot
from dockyard.domain.errors import RuntimeFailure

log = logging.getLogger("dockyard.balancer")
TICK_S = 1.0


class BalancerEnded(Exception):
    """HAProxy or the feed ended; the message says why."""


class Balancer:
    """Applies snapshots to one HAProxy (see the module's docstring)."""

    def __init__(
        self,
        haproxy: Haproxy,
        *,
        shape: Shape,
        listeners: Listeners,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self.haproxy = haproxy
        self.layout = Layout()
        self.applied = 0
        """Snapshots applied so far (for tests and health reports)."""
        self._shape = shape
        self._listeners = listeners
        self._clock = clock
        self._tick_s = tick_s
        self._started = False
        self._stale = False
        """HAProxy serves a configuration an earlier balancer left: rewrite it on the next
        snapshot, even one that changes nothing here."""
        self._latest: Snapshot | None = None
        self._changed = asyncio.Event()

    async def run(self, snapshots: AsyncIterator[Snapshot]) -> None:
        """Serve `snapshots` until HAProxy or the feed ends (BalancerEnded); HAProxy is
        stopped when `run` ends, however it ends."""
        follower = asyncio.create_task(self._follow(snapshots))
        try:
            if not self._started:
                await self.start()
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._tick_s):
                        await self._changed.wait()
                self._changed.clear()
                status = self.haproxy.exit_status()
                if status is not None:
                    raise BalancerEnded(f"HAProxy exited with status {status}")
                if follower.done():
                    reason = follower.exception() if not follower.cancelled() else None
                    raise BalancerEnded(f"the endpoint feed ended: {reason!r}")
                if self._latest is not None:
                    await self.apply(self._latest)
        finally:
            follower.cancel()
            await self.haproxy.stop()

    async def _follow(self, snapshots: AsyncIterator[Snapshot]) -> None:
        try:
            async for snapshot in snapshots:
                self._latest = snapshot
                self._changed.set()
        finally:
            self._changed.set()

    async def start(self) -> None:
        """Start HAProxy before any snapshot: on the configuration an earlier balancer left,
        so its routes are served at once even while the server is away; else on none."""
        kept = self.haproxy.files.config.exists() and self.haproxy.files.map_file.exists()
        if kept:
            try:
                await self.haproxy.check(self.haproxy.files.config)
            except RuntimeFailure as exc:
                log.warning("not serving the configuration left behind: %s", exc)
                kept = False
        if not kept:
            self._write(Layout())
        await self.haproxy.start()
        self._started, self._stale = True, kept

    async def apply(self, snapshot: Snapshot) -> None:
        """Make HAProxy serve `snapshot` (starting it first if need be)."""
        if not self._started:
            await self.start()
        nxt = arrange(self.layout, snapshot, shape=self._shape, now=self._clock())
        for reason in set(nxt.unrouted) - set(self.layout.unrouted):
            log.warning("not routed: %s", reason)
        await self._change(nxt)
        self.layout = nxt
        self.applied += 1

    async def _change(self, nxt: Layout) -> None:
        if nxt == self.layout and not self._stale:
            return
        steps = plan(self.layout, nxt, map_file=str(self.haproxy.files.map_file))
        self._write(nxt)
        if steps.reload or self._stale:
            self._stale = False
            log.info("reloading HAProxy: %d backends", len(nxt.backends))
            await self.haproxy.reload()
            return
        errors = await self.haproxy.apply(steps.commands)
        if errors:
            log.warning("HAProxy refused runtime commands (%s); reloading", "; ".join(errors))
            await self.haproxy.reload()

    def _write(self, layout: Layout) -> None:
        files = self.haproxy.files
        write_atomically(files.map_file, render_map(layout))
        write_atomically(files.config, render(layout, self._listeners, files))
