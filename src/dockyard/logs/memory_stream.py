"""An in-memory LogStream (logs/stream.py) for unit tests: one process, no persistence.

Holds the same contract as JetStream (tests/conformance/test_log_stream.py): deduplication by
message id, durable consumers that start at the oldest batch, redelivery of what was not
acknowledged. `down` makes every call raise Unavailable, to test what callers do then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dockyard.domain.errors import Unavailable
from dockyard.logs import wire
from dockyard.logs.raw import RawBatch
from dockyard.logs.record import SUBJECT_ROOT, Batch
from dockyard.logs.wire import Message


@dataclass
class _Consumer:
    subject: str = ">"
    start_ns: int | None = None
    next_index: int = 0
    pending: dict[int, Batch] = field(default_factory=dict)  # delivered, not yet acknowledged
    redeliver: list[int] = field(default_factory=list)


@dataclass
class MemoryDelivery:
    batch: Batch
    _index: int
    _consumer: _Consumer

    async def ack(self) -> None:
        self._consumer.pending.pop(self._index, None)

    async def nak(self, *, delay_s: float = 0.0) -> None:
        if self._index in self._consumer.pending:
            self._consumer.redeliver.append(self._index)

    async def term(self) -> None:
        self._consumer.pending.pop(self._index, None)


class MemoryLogStream:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.down = False
        self._ids: set[str] = set()
        self._consumers: dict[str, _Consumer] = {}
        self._followers: list[tuple[str, asyncio.Queue[Batch]]] = []
        self._arrived = asyncio.Event()

    async def publish(self, message: Message) -> None:
        """Stores the lines as a consumer sees them: a raw batch goes through its encoding and
        back, as it would through JetStream."""
        self._check()
        if message.msg_id in self._ids:
            return
        batch = wire.decode(message.encode()) if isinstance(message, RawBatch) else message
        self._ids.add(batch.msg_id)
        self.batches.append(batch)
        for pattern, queue in self._followers:
            if _matches(pattern, batch.source.subject):
                queue.put_nowait(batch)
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def fetch(
        self,
        consumer: str,
        *,
        max_batches: int,
        timeout_s: float,
        subject: str | None = None,
        start_ns: int | None = None,
    ) -> list[MemoryDelivery]:
        self._check()
        state = self._consumers.get(consumer)
        if state is None:
            state = _Consumer(subject or f"{SUBJECT_ROOT}.>", start_ns)
            self._consumers[consumer] = state
        self._skip_unwanted(state)
        if not state.redeliver and state.next_index >= len(self.batches):
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout_s)
            except TimeoutError:
                return []
        out: list[MemoryDelivery] = []
        while state.redeliver and len(out) < max_batches:
            index = state.redeliver.pop(0)
            out.append(MemoryDelivery(self.batches[index], index, state))
        while len(out) < max_batches:
            self._skip_unwanted(state)
            if state.next_index >= len(self.batches):
                break
            index = state.next_index
            state.next_index += 1
            state.pending[index] = self.batches[index]
            out.append(MemoryDelivery(self.batches[index], index, state))
        return out

    async def backlog(self, consumer: str) -> int:
        self._check()
        state = self._consumers.get(consumer)
        if state is None:
            return 0
        later = self.batches[state.next_index :]
        return len(state.pending) + sum(1 for b in later if self._wanted(state, b))

    async def consumers(self) -> list[str]:
        self._check()
        return sorted(self._consumers)

    async def remove(self, consumer: str) -> None:
        self._check()
        self._consumers.pop(consumer, None)

    def _skip_unwanted(self, state: _Consumer) -> None:
        while state.next_index < len(self.batches) and not self._wanted(
            state, self.batches[state.next_index]
        ):
            state.next_index += 1

    @staticmethod
    def _wanted(state: _Consumer, batch: Batch) -> bool:
        # The fake stores no publish times: a batch's last line stands in for when it came.
        late_enough = state.start_ns is None or batch.lines[-1].time_ns >= state.start_ns
        return late_enough and _matches(state.subject, batch.source.subject)

    def lapse(self, consumer: str) -> None:
        """Act as if the ack wait ran out: every unacknowledged batch is due again."""
        state = self._consumers[consumer]
        state.redeliver.extend(sorted(set(state.pending) - set(state.redeliver)))

    async def follow(self, subject: str, *, since_ns: int | None = None) -> AsyncIterator[Batch]:
        self._check()
        queue: asyncio.Queue[Batch] = asyncio.Queue()
        if since_ns is not None:  # stored batches stand in for publish times by their lines'
            for batch in self.batches:
                if batch.lines[-1].time_ns >= since_ns and _matches(subject, batch.source.subject):
                    queue.put_nowait(batch)
        entry = (subject, queue)
        self._followers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._followers.remove(entry)

    async def close(self) -> None:
        self.down = True

    def _check(self) -> None:
        if self.down:
            raise Unavailable("the log stream is down: start nats-server (dockyard up)")


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` the rest (at least one token)."""
    want, have = pattern.split("."), subject.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return len(have) > i
        if i >= len(have) or part not in ("*", have[i]):
            return False
    return len(want) == len(have)
