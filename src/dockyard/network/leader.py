"""Leader election on etcd: of several `dockyard server` processes over one database, one at a
time runs the controllers and the stable follower; the others stand by and take over when the
leader's key disappears.

Each candidate campaigns for one key, `<prefix>/leader`, created only if absent and bound to an
etcd lease of `ttl_s` seconds; its value names the holder (host, pid, start time, lease). The
holder refreshes the lease every third of the TTL and checks that the key still names it.
`decide` is the pure rule (campaign, keep, refresh, step down), over a monotonic clock.

Fencing, as chosen: the holder counts from the moment it *sent* its last successful refresh
(etcd restarted that lease's TTL later than that) and steps down on its own clock at two thirds
of the TTL without a newer one, whatever etcd says, so it has stopped before etcd can expire its
key and let another server in: a margin of a third of the TTL for the stop to take effect. Work
already inside a worker thread (a database transaction, one runtime call) finishes after the
stop; there is no fencing token checked by the database or the runtime. The controllers are
idempotent, re-read everything and label what they start, so the next leader's passes correct
such a late action. A key deleted by hand is noticed at the holder's next refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from dockyard.domain.errors import Unavailable
from dockyard.network.etcd import Etcd

log = logging.getLogger(__name__)

CAMPAIGN_POLLS_PER_TTL = 5
"""A candidate looks at the key this many times per TTL: a vanished key is taken within ttl/5."""
REFRESH_RETRIES_PER_TTL = 10
"""A failed refresh is retried every tenth of the TTL until the step-down deadline."""


class Action(Enum):
    CAMPAIGN = "campaign"
    """Not leading: look at the key, create it if absent (or adopt it if it is still ours)."""
    KEEP = "keep"
    """Leading, the last refresh is recent: nothing to do."""
    REFRESH = "refresh"
    """Leading, a third of the TTL has passed: refresh the lease."""
    STEP_DOWN = "step down"
    """Leading, no successful refresh for two thirds of the TTL: stop leading now."""


@dataclass(frozen=True)
class Decision:
    action: Action
    wait_s: float
    """How long to wait after acting before deciding again."""


def decide(confirmed_at: float | None, *, now: float, ttl_s: float) -> Decision:
    """What a candidate does at `now` (monotonic seconds).

    `confirmed_at` is when the request behind the last proof that our lease was alive was sent
    (grant or refresh); None when this candidate does not lead.
    """
    if confirmed_at is None:
        return Decision(Action.CAMPAIGN, ttl_s / CAMPAIGN_POLLS_PER_TTL)
    age = now - confirmed_at
    deadline = ttl_s * 2 / 3
    if age >= deadline:
        return Decision(Action.STEP_DOWN, 0.0)
    if age >= ttl_s / 3:
        return Decision(Action.REFRESH, min(ttl_s / REFRESH_RETRIES_PER_TTL, deadline - age))
    return Decision(Action.KEEP, ttl_s / 3 - age)


@dataclass(frozen=True)
class Holder:
    """Who holds the key: the value written under it."""

    host: str
    pid: int
    started: str
    """When that server started (ISO 8601, UTC)."""
    lease: int

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Holder | None:
        """The holder written in `raw`; None if it is not one (written by something else)."""
        try:
            found = json.loads(raw)
            return cls(str(found["host"]), int(found["pid"]), str(found["started"]),
                       int(found["lease"]))  # fmt: skip
        except (ValueError, TypeError, KeyError):
            return None

    def describe(self) -> str:
        return f"{self.host} pid {self.pid} (started {self.started})"


@dataclass(frozen=True)
class Candidate:
    """This server as it names itself in the key."""

    host: str
    pid: int
    started: str


class Election:
    """One candidate's campaign for `key`. `run` until cancelled, then `resign`.

    `on_change(True)` is called when this candidate starts leading, `on_change(False)` when it
    stops (lost lease, key gone, or no refresh for two thirds of the TTL), both on the loop.
    """

    def __init__(
        self,
        etcd: Etcd,
        *,
        key: str,
        ttl_s: int,
        me: Candidate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._etcd = etcd
        self._key = key
        self._ttl_s = ttl_s
        self._me = me
        self._clock = clock
        self._lease: int | None = None
        self._confirmed_at: float | None = None
        self._on_change: Callable[[bool], None] = _ignore
        self.leader: str | None = None
        """Who leads as last seen (`Holder.describe`); None if no one, or not known yet."""
        self.problem: str | None = None
        """Why the last look at etcd failed; None when it answered."""

    @property
    def leading(self) -> bool:
        return self._confirmed_at is not None

    async def run(self, *, on_change: Callable[[bool], None]) -> None:
        """Campaign, lead, step down and campaign again, until cancelled."""
        self._on_change = on_change
        while True:
            wait_s = await self.step()
            await asyncio.sleep(wait_s)

    async def step(self) -> float:
        """Decide and act once; the seconds to wait before the next step."""
        decision = decide(self._confirmed_at, now=self._clock(), ttl_s=self._ttl_s)
        try:
            if decision.action is Action.CAMPAIGN:
                await self._campaign()
            elif decision.action is Action.REFRESH:
                await self._bounded(self._refresh())
            elif decision.action is Action.STEP_DOWN:
                self._step_down("no successful refresh of its lease for 2/3 of the TTL")
        except Unavailable as exc:
            self.problem = exc.message
        else:
            if decision.action is not Action.KEEP:
                self.problem = None
        return decide(self._confirmed_at, now=self._clock(), ttl_s=self._ttl_s).wait_s

    async def resign(self) -> None:
        """Stop leading and end our lease so another candidate takes over at once. Best effort:
        if etcd does not answer, the key goes when the lease expires."""
        if self.leading:
            self._step_down("this server stops")
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(Unavailable, TimeoutError):
                await asyncio.wait_for(self._etcd.revoke(lease), timeout=self._ttl_s / 3)

    async def _campaign(self) -> None:
        entry = await self._etcd.get(self._key)
        if entry is not None:
            holder = Holder.decode(entry.value)
            self.leader = holder.describe() if holder else f"unknown ({entry.value[:80]!r})"
            if holder is not None and holder.lease == self._lease:
                await self._adopt()  # still ours: a lost answer, or a partition that healed
            return
        self.leader = None
        await self._forget_lease()
        sent = self._clock()
        self._lease = await self._etcd.grant(self._ttl_s)
        me = Holder(self._me.host, self._me.pid, self._me.started, self._lease)
        # OutcomeUnknown keeps self._lease: the next campaign adopts the key if it was made.
        created, entry = await self._etcd.create(self._key, me.encode(), lease=self._lease)
        if created:
            self._lead(sent, me)
            return
        holder = Holder.decode(entry.value)
        self.leader = holder.describe() if holder else None
        await self._forget_lease()

    async def _adopt(self) -> None:
        assert self._lease is not None
        sent = self._clock()
        if await self._etcd.keep_alive(self._lease) > 0:
            self._lead(sent, Holder(self._me.host, self._me.pid, self._me.started, self._lease))
        else:
            self._lease = None

    async def _refresh(self) -> None:
        assert self._lease is not None
        sent = self._clock()
        alive = await self._etcd.keep_alive(self._lease) > 0
        entry = await self._etcd.get(self._key) if alive else None
        holder = Holder.decode(entry.value) if entry is not None else None
        if holder is None or holder.lease != self._lease:
            if not alive:
                self._lease = None
            self._step_down("its lease expired" if not alive else "its key was taken away")
            await self._forget_lease()
            return
        self._confirmed_at = sent

    async def _bounded(self, action: Coroutine[Any, Any, None]) -> None:
        """Run a leader's request, given up at the step-down deadline (a hung etcd)."""
        assert self._confirmed_at is not None
        left = self._confirmed_at + self._ttl_s * 2 / 3 - self._clock()
        try:
            await asyncio.wait_for(action, timeout=max(left, 0.001))
        except TimeoutError:
            raise Unavailable(
                f"etcd did not answer the refresh of the leader's lease in {left:.1f}s"
            ) from None

    async def _forget_lease(self) -> None:
        """End a lease that holds nothing of ours any more (best effort: it expires anyway)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(Unavailable):
                await self._etcd.revoke(lease)

    def _lead(self, sent: float, me: Holder) -> None:
        self._confirmed_at = sent
        self.leader = me.describe()
        log.warning("leading: this server runs the controllers (key %s)", self._key)
        self._on_change(True)

    def _step_down(self, why: str) -> None:
        self._confirmed_at = None
        self.leader = None
        log.warning("stepped down: %s; the controllers stop here", why)
        self._on_change(False)


def _ignore(_leading: bool) -> None:
    pass
