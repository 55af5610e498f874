"""The shipper's counters, in one place: per source and in total, for the agent to log now and
to expose as metrics later (lines read and sent, what was lost and when, how long the stream
could not take lines)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

LOSSES_KEPT = 20  # the latest loss events of a source, with their times


@dataclass(frozen=True)
class LossEvent:
    """Lines that can never be shipped: when it was found, what, and at least how many bytes
    (None when unknown)."""

    time_ns: int
    what: str
    bytes: int | None


@dataclass
class SourceCounters:
    lines_read: int = 0
    lines_sent: int = 0
    bytes_read: int = 0
    malformed: int = 0
    """Lines of a json-file log that were no Docker entry (skipped)."""
    dropped_rate: int = 0
    """Lines read but not shipped: over the service's flood budget (logs/throttle.py)."""
    lost: int = 0
    """Loss events (a file rotated away unread ...): see `losses` for the latest."""
    lost_bytes: int = 0
    """Bytes lost, as far as known."""
    errors: int = 0
    """Failures reading the source (retried)."""
    unavailable_s: float = 0.0
    """Seconds spent waiting for the stream to take a batch."""
    losses: deque[LossEvent] = field(default_factory=lambda: deque(maxlen=LOSSES_KEPT))

    def add_loss(self, event: LossEvent) -> None:
        self.lost += 1
        self.lost_bytes += event.bytes or 0
        self.losses.append(event)


@dataclass
class ShipperCounters:
    """Counters of every source the shipper followed, by source key."""

    sources: dict[str, SourceCounters] = field(default_factory=dict)
    stream_waiting: int = 0
    """Sources waiting now for the stream to take a batch (backpressure)."""

    def of(self, key: str) -> SourceCounters:
        return self.sources.setdefault(key, SourceCounters())

    def total(self) -> SourceCounters:
        """Every source's counters summed (without the loss events)."""
        out = SourceCounters()
        for one in self.sources.values():
            out.lines_read += one.lines_read
            out.lines_sent += one.lines_sent
            out.bytes_read += one.bytes_read
            out.malformed += one.malformed
            out.dropped_rate += one.dropped_rate
            out.lost += one.lost
            out.lost_bytes += one.lost_bytes
            out.errors += one.errors
            out.unavailable_s += one.unavailable_s
        return out

    def summary(self) -> str:
        """One log line's worth: `lines_read=... lines_sent=... lost=...`."""
        t = self.total()
        return (
            f"sources={len(self.sources)} lines_read={t.lines_read} lines_sent={t.lines_sent} "
            f"bytes_read={t.bytes_read} lost={t.lost} lost_bytes={t.lost_bytes} "
            f"malformed={t.malformed} dropped_rate={t.dropped_rate} errors={t.errors} "
            f"stream_unavailable_s={t.unavailable_s:.1f} "
            f"stream_waiting={self.stream_waiting}"
        )
