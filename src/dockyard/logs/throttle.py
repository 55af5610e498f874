"""Where one source's reads meet its service's flood budget (logs/budget.py) on the way from the
reader to the stream (logs/shipper.py).

Docker's whole lines read as they are (logs/raw.py) pass as they are while the budget takes them
all; otherwise they are decoded here and judged one by one. Lines over the budget are read and
checkpointed but never shipped: a flooder's file must not
become an unbounded buffer. The lines shipped are numbered again without gaps (consumers wait
for a gap to fill), and where a run of drops ends, one marker line in the same numbering says how
many went (`… 1,204 lines dropped by the rate limit …`). The checkpoint carries the shipped
numbering, so an agent that restarts reads on under the same numbers.

The budget is per service (team, service, environment) on this host: every source of every
instance of the service here draws from one bucket, and no other service's source waits for it
(each source is read by a task of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dockyard.logs.budget import UNLIMITED, Bucket, Rate, marker_text
from dockyard.logs.reader import Read
from dockyard.logs.record import Line, Source


def service_of(source: Source) -> str:
    """The key of the budget `source` draws from."""
    return f"{source.team}/{source.service}/{source.env}"


class Budgets:
    """The buckets of the services on this host (made full when first drawn from)."""

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}

    def take(self, service: str, rate: Rate, wanted: int, now: float) -> int:
        """How many of `wanted` lines of `service`, written by time `now`, pass."""
        bucket = self._buckets.get(service) or Bucket.full(rate, now)
        passed, self._buckets[service] = bucket.take(rate, wanted, now)
        return passed

    def fits(self, service: str, rate: Rate, wanted: int, now: float) -> bool:
        """True if all `wanted` lines of `service`, written by time `now`, would pass."""
        bucket = self._buckets.get(service) or Bucket.full(rate, now)
        return rate.unlimited or bucket.refilled(rate, now).tokens >= wanted

    def has_room(self, service: str, rate: Rate, now: float) -> bool:
        bucket = self._buckets.get(service)
        return bucket is None or bucket.has_room(rate, now)


@dataclass
class Throttle:
    """One source's lines through its service's budget (one caller at a time)."""

    budgets: Budgets
    service: str
    rate: Rate = UNLIMITED
    pending: int = 0
    """Lines dropped since the last marker."""
    dropped_at: tuple[int, str] = (0, "")
    """The time and stream of the last line dropped: the marker's."""
    shift: int = field(default=0)
    """Shipped number minus the reader's number: markers made minus lines dropped since the
    reader was opened."""

    def reopened(self) -> None:
        """The reader starts again at the checkpoint, which is in the shipped numbering."""
        self.shift = 0

    def apply(self, read: Read, *, now_ns: int) -> tuple[Read, int]:
        """`read` as it is shipped (its lines kept, numbered again, after a marker if a run of
        drops just ended; its checkpoint in the shipped numbering), and how many lines it
        dropped."""
        if self.rate.unlimited and not self.pending and not self.shift:
            return read, 0
        if read.raw is not None:
            read = self._whole(read)
            if read.raw is not None:
                return read, 0
        lines = read.lines
        passed = (
            self.budgets.take(self.service, self.rate, len(lines), lines[-1].time_ns / 1e9)
            if lines
            else 0
        )
        first = lines[0].seq if lines else read.resume.seq + 1
        out: list[Line] = []
        if self.pending and (passed or (not lines and self._room(now_ns))):
            out.append(self._marker(first + self.shift))
        out.extend(self._renumbered(lines[:passed]))
        dropped = len(lines) - passed
        if dropped:
            self.pending += dropped
            self.dropped_at = (lines[-1].time_ns, lines[-1].stream)
            self.shift -= dropped
        resume = replace(read.resume, seq=read.resume.seq + self.shift)
        return replace(read, lines=out, resume=resume), dropped

    def _whole(self, read: Read) -> Read:
        """`read` as it is if the budget takes all of its raw lines (and no drops wait for
        their marker); else with its raw lines decoded, to be judged one by one."""
        raw = read.raw
        assert raw is not None
        if not self.pending and not self.shift:
            at = raw.last_time_ns() / 1e9
            if self.budgets.fits(self.service, self.rate, raw.count, at):
                self.budgets.take(self.service, self.rate, raw.count, at)
                return read
        return replace(read, lines=list(raw.lines()), raw=None)

    def _renumbered(self, lines: list[Line]) -> list[Line]:
        shift = self.shift
        if not shift:
            return lines
        return [Line(ln.seq + shift, ln.time_ns, ln.stream, ln.text, ln.cut) for ln in lines]

    def _room(self, now_ns: int) -> bool:
        return self.budgets.has_room(self.service, self.rate, now_ns / 1e9)

    def _marker(self, seq: int) -> Line:
        """The line standing for the pending drops, at their last one's time and stream."""
        time_ns, stream = self.dropped_at
        marker = Line(seq, time_ns, stream, marker_text(self.pending))
        self.pending = 0
        self.shift += 1
        return marker
