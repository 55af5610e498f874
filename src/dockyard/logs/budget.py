"""A service's flood budget on one host: a token bucket of lines per second, and the marker line
that stands in the log for a run of lines the budget dropped.

Pure: the caller passes the time. The shipper (logs/throttle.py) passes the write time of the
lines it judges (Docker's timestamp), not the time it reads them, so a backlog read after an
agent restart is judged by how fast it was written, and reading it again gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.domain.errors import Invalid
from dockyard.domain.lograte import BURST_S

MARKER_HEAD = "… "
MARKER_TAIL = " dropped by the rate limit …"


@dataclass(frozen=True)
class Rate:
    """`lines_per_s` on average (0: unlimited), and at most `burst` lines at once (0: BURST_S
    seconds' worth)."""

    lines_per_s: int
    burst: int = 0

    def __post_init__(self) -> None:
        if self.lines_per_s < 0 or self.burst < 0:
            raise Invalid("a log rate and its burst are whole numbers >= 0", field="log_rate")

    @property
    def unlimited(self) -> bool:
        return self.lines_per_s == 0

    @property
    def capacity(self) -> int:
        """The most lines the bucket holds."""
        return self.burst or self.lines_per_s * BURST_S


UNLIMITED = Rate(0)


@dataclass(frozen=True)
class Bucket:
    """Tokens (lines that may pass now) as of time `at` (seconds)."""

    tokens: float
    at: float

    @classmethod
    def full(cls, rate: Rate, now: float) -> Bucket:
        return cls(float(rate.capacity), now)

    def refilled(self, rate: Rate, now: float) -> Bucket:
        """The bucket at `now`: refilled for the time since `at`, never past its capacity. A
        `now` before `at` (lines of another source written earlier) refills nothing."""
        if now <= self.at:
            return self
        tokens = min(float(rate.capacity), self.tokens + (now - self.at) * rate.lines_per_s)
        return Bucket(tokens, now)

    def take(self, rate: Rate, wanted: int, now: float) -> tuple[int, Bucket]:
        """(how many of `wanted` lines pass, the bucket after them) at `now`. Unlimited: all."""
        if rate.unlimited:
            return wanted, self
        full = self.refilled(rate, now)
        passed = min(wanted, int(full.tokens))
        return passed, Bucket(full.tokens - passed, full.at)

    def has_room(self, rate: Rate, now: float) -> bool:
        """True if one line would pass at `now` (a run of drops is over)."""
        return rate.unlimited or self.refilled(rate, now).tokens >= 1


def marker_text(dropped: int) -> str:
    """`… 1,204 lines dropped by the rate limit …`: the line standing for `dropped` lines."""
    noun = "line" if dropped == 1 else "lines"
    return f"{MARKER_HEAD}{dropped:,} {noun}{MARKER_TAIL}"


def is_marker(text: str) -> bool:
    """True if `text` is a marker line's (logs/level.py shows it as a warning)."""
    return text.startswith(MARKER_HEAD) and text.endswith(MARKER_TAIL) and len(text) < 64
