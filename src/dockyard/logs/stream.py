"""The log stream seam: what the agent publishes to and the consumers (indexer, archiver, drains,
live tails) read from. JetStream is the real one (logs/jetstream.py); logs/memory_stream.py is
the in-memory fake for unit tests; tests/conformance/test_log_stream.py holds both to this
contract.

Delivery is at least once; exactly once comes from the line numbers (logs/record.py): the
stream drops a batch whose `msg_id` it stored inside its deduplication window, and consumers
skip lines at or below the highest number they hold for a source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from dockyard.logs.record import Batch
from dockyard.logs.wire import Message


class Delivery(Protocol):
    """One batch handed to a durable consumer; it is redelivered until acknowledged."""

    @property
    def batch(self) -> Batch: ...

    async def ack(self) -> None:
        """The consumer holds the batch for good: it is never delivered to this consumer again."""

    async def nak(self, *, delay_s: float = 0.0) -> None:
        """Deliver the batch again after `delay_s` (the consumer could not take it now)."""

    async def term(self) -> None:
        """Never deliver this message again (it cannot be decoded; counted by the caller)."""


class LogStream(Protocol):
    async def publish(self, batch: Message) -> None:
        """Return once the stream has stored `batch` (either wire version: logs/wire.py) or
        found it a duplicate of one it stored.

        Raises Unavailable when the stream cannot take it now (down, slow, full): the caller
        keeps its file position and offers the same lines again later, so nothing is lost.
        """

    async def fetch(
        self,
        consumer: str,
        *,
        max_batches: int,
        timeout_s: float,
        subject: str | None = None,
        start_ns: int | None = None,
    ) -> Sequence[Delivery]:
        """Up to `max_batches` batches for the durable consumer `consumer`, in stream order.

        The consumer is made on first use and starts at the oldest batch the stream holds (or,
        with `start_ns`, the oldest stored at or after that time, ns since the epoch); with
        `subject` (NATS wildcards) it is handed only the batches whose subject matches. A
        consumer keeps its `subject` and `start_ns` for life: pass the same ones each time. It
        keeps its place across restarts of the caller and of the stream. Waits at most
        `timeout_s` for a first batch and returns [] if none came. A batch not acknowledged
        within the stream's ack wait is delivered again. Raises Unavailable when the stream
        cannot be reached.
        """

    async def backlog(self, consumer: str) -> int:
        """Batches of the durable `consumer` not yet acknowledged (delivered or not); 0 for a
        consumer not made yet. Raises Unavailable when the stream cannot be reached."""

    async def consumers(self) -> list[str]:
        """The names of the stream's durable consumers. Raises Unavailable when the stream
        cannot be reached."""

    async def remove(self, consumer: str) -> None:
        """Delete the durable `consumer` and its place; removing one that is absent succeeds.
        Raises Unavailable when the stream cannot be reached."""

    def follow(self, subject: str, *, since_ns: int | None = None) -> AsyncIterator[Batch]:
        """Batches whose subject matches `subject` (NATS wildcards `*` and `>`), for live
        tails: those published from now on, or with `since_ns` (ns since the epoch) also those
        the stream stored from that time on. Nothing is kept for the follower, nothing is
        acknowledged. Ends (raises Unavailable) when the stream goes away; the caller follows
        again."""

    async def close(self) -> None:
        """Release connections; further calls raise Unavailable."""
