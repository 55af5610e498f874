"""Reading endpoint sets and watching them change, for one server process.

Any server process may serve a watch while another (the elected leader) runs the controllers,
so a change is learnt from the database, the one thing they share. One poller per process reads
the ready instances of every watched key in one query every `interval_s` (25 ms by default: a
watcher hears of a change within about one interval; the query is ~0.2 ms on SQLite), and
wakes the watchers of the keys whose fingerprint changed. A watcher then reads its answer again
(the watchers of one question share that read: 50 watchers of one service cost one read per
change); it is woken at most once per change, and never misses one (see `_watching`).
Polling, rather than PostgreSQL's LISTEN/NOTIFY, works the same on SQLite and PostgreSQL and
needs no change to the controller's writes; its cost is one small query per interval per process
while anything is watched, and nothing when nothing is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass

from dockyard.discovery.endpoints import EndpointSet, answer, candidates, choose, fingerprint
from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError, NotFound
from dockyard.domain.publish import visible_to
from dockyard.domain.spec import Port
from dockyard.domain.status import EnvKey, InstanceRecord
from dockyard.store.db import Database, Reader
from dockyard.store.endpoints import Published, published, ready_records, revision_ports

POLL_INTERVAL_S = 0.025
RECHECK_S = 1.0
"""How often a watcher reads again unwoken: a service deleted or unpublished under a watch
changes no ready set, and must still end the watch within about this long."""
ERROR_BACKOFF_S = 1.0

log = logging.getLogger("dockyard.discovery")


@dataclass(frozen=True)
class Question:
    """What a caller asks: one service environment, maybe with the stable fallback."""

    team: str
    service: str
    env: Environment
    fallback: bool = False
    caller: str | None = None
    """The asking team; None for the admin, who sees every service."""


class EndpointWatch:
    """Answers and watches endpoint questions. One per process; safe to share between
    requests; its poller runs only while something is watched."""

    def __init__(
        self, db: Database, *, interval_s: float = POLL_INTERVAL_S, recheck_s: float = RECHECK_S
    ) -> None:
        self._db = db
        self._interval_s = interval_s
        self._recheck_s = recheck_s
        self._waiters: dict[EnvKey, set[asyncio.Event]] = {}
        self._seen: dict[EnvKey, str] = {}
        self._generation: dict[EnvKey, int] = {}
        """Bumped by the poller at each change of a key's ready set."""
        self._answers: dict[Question, tuple[tuple[int, ...], EndpointSet]] = {}
        """The last answer read for each watched question, with the generations it was read
        at: the watchers of one question woken by one change share one read."""
        self._askers: dict[Question, int] = {}
        self._poller: asyncio.Task[None] | None = None
        self._ports: dict[tuple[EnvKey, int], tuple[Port, ...]] = {}

    @property
    def watched(self) -> int:
        """How many keys are watched now (0: the poller is stopped or stopping)."""
        return len(self._waiters)

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def read(self, question: Question) -> EndpointSet:
        """The current answer. NotFound if the service does not exist, is deleted, or is not
        published to the caller (the same answer, so existence does not leak)."""
        with self._db.reading() as reader:
            service = self._service(reader, question)
            envs = candidates(question.env, fallback=question.fallback)
            keys = [EnvKey(service.service_id, env) for env in envs]
            found = ready_records(reader, keys)
            used, records = choose(question.env, [(key.env, found[key]) for key in keys])
            ports = self._revision_ports(
                reader, EnvKey(service.service_id, used), {r.revision for r in records}
            )
        return answer(question.env, [(used, records)], {used: ports})

    async def follow(
        self, question: Question, *, since: str | None
    ) -> AsyncGenerator[EndpointSet, None]:
        """The current answer if its version is not `since`, then each changed answer, for as
        long as the caller iterates. Raises as `read` does (also when the service goes)."""
        service = await asyncio.to_thread(self._checked, question)
        keys = [
            EnvKey(service, env) for env in candidates(question.env, fallback=question.fallback)
        ]
        self._askers[question] = self._askers.get(question, 0) + 1
        try:
            async with contextlib.aclosing(self._changes(question, keys, since=since)) as changes:
                async for current in changes:
                    yield current
        finally:
            self._askers[question] -= 1
            if not self._askers[question]:
                del self._askers[question]
                self._answers.pop(question, None)

    async def _changes(
        self, question: Question, keys: list[EnvKey], *, since: str | None
    ) -> AsyncGenerator[EndpointSet, None]:
        last, fresh = since, True
        with self._watching(keys) as woken:
            while True:
                woken.clear()  # before the read: a change after it sets the event again
                current = await self._shared_read(question, keys, fresh=fresh)
                if current.version != last:
                    last = current.version
                    yield current
                try:
                    await asyncio.wait_for(woken.wait(), self._recheck_s)
                    fresh = False
                except TimeoutError:
                    fresh = True  # unwoken: read anew, to see a deletion or a new setting

    async def _shared_read(
        self, question: Question, keys: list[EnvKey], *, fresh: bool
    ) -> EndpointSet:
        """`read` (in a thread: the database must not hold up the event loop), or the answer
        another watcher of `question` read since the last change."""
        stamp = tuple(self._generation.get(key, -1) for key in keys)
        kept = self._answers.get(question)
        if not fresh and kept is not None and kept[0] == stamp and -1 not in stamp:
            return kept[1]
        current = await asyncio.to_thread(self.read, question)
        self._answers[question] = (stamp, current)
        return current

    async def wait(self, question: Question, *, since: str | None, timeout_s: float) -> EndpointSet:
        """The answer once its version differs from `since`, or the current one after
        `timeout_s` (a long poll)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                async with contextlib.aclosing(self.follow(question, since=since)) as changes:
                    async for changed in changes:
                        return changed
        return await asyncio.to_thread(self.read, question)

    def _checked(self, question: Question) -> int:
        with self._db.reading() as reader:
            return self._service(reader, question).service_id

    @staticmethod
    def _service(reader: Reader, question: Question) -> Published:
        found = published(reader, team=question.team, service=question.service)
        if found is None or not visible_to(
            found.publish, owner=question.team, caller=question.caller
        ):
            raise NotFound(
                f"service {question.service!r} of team {question.team!r} not found, or not "
                "published to your team; its team can publish it (`dockyard service update "
                "--publish`)"
            )
        return found

    def _revision_ports(
        self, reader: Reader, key: EnvKey, revisions: set[int]
    ) -> dict[int, tuple[Port, ...]]:
        # Releases never change: a revision's ports are read once per process.
        missing = {n for n in revisions if (key, n) not in self._ports}
        for number, ports in revision_ports(reader, key, missing).items():
            self._ports[(key, number)] = ports
        return {n: self._ports[(key, n)] for n in revisions if (key, n) in self._ports}

    @contextlib.contextmanager
    def _watching(self, keys: list[EnvKey]) -> Iterator[asyncio.Event]:
        """An event the poller sets whenever the ready set of one of `keys` changes.

        A key newly watched counts as changed at its first poll: its watcher may have read
        before the poller knew the key, and must not miss a change made in between.
        """
        woken = asyncio.Event()
        for key in keys:
            self._waiters.setdefault(key, set()).add(woken)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield woken
        finally:
            for key in keys:
                waiters = self._waiters.get(key, set())
                waiters.discard(woken)
                if not waiters:
                    self._waiters.pop(key, None)
                    self._seen.pop(key, None)
                    self._generation.pop(key, None)

    async def _poll(self) -> None:
        """Until nothing is watched: read the watched keys, wake the watchers of changed ones."""
        while self._waiters:
            try:
                keys = list(self._waiters)
                found = await asyncio.to_thread(self._ready, keys)
            except DockyardError as exc:
                # The watchers' own reads report the outage; the poller keeps trying.
                log.warning("endpoint poll failed: %s", exc.message)
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            self._wake(found)
            await asyncio.sleep(self._interval_s)

    def _ready(self, keys: list[EnvKey]) -> dict[EnvKey, list[InstanceRecord]]:
        """The watched keys' records (blocking: run in a thread)."""
        with self._db.reading() as reader:
            return ready_records(reader, keys)

    def _wake(self, found: dict[EnvKey, list[InstanceRecord]]) -> None:
        """Wake the watchers of the keys whose ready set changed (in the event loop)."""
        for key, records in found.items():
            if key not in self._waiters:
                continue  # its last watcher left while the read ran
            now = fingerprint(records)
            if self._seen.get(key) != now:
                self._seen[key] = now
                self._generation[key] = self._generation.get(key, 0) + 1
                for woken in self._waiters.get(key, ()):
                    woken.set()
