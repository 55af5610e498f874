"""A service's log flood budget: how many lines per second its instances on one host may ship
(the agent drops the rest, counts them, and leaves one marker line where they were; see
logs/throttle.py). Without one the platform's default applies (DOCKYARD_LOG_RATE_DEFAULT).

The runtime tells the host agent through a container label, as for declared log files. Pure.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from dockyard.domain.errors import Invalid

BURST_S = 5
"""Without a burst of its own, a budget holds this many seconds of lines: a start-up or a
crash's stack dump passes whole, a flood does not."""
MAX_LOG_RATE = 1_000_000
"""Lines per second: past this a service is not limited at all (one host's agent ships less)."""
MAX_LOG_BURST = 10_000_000
LABEL_LOG_RATE = "io.dockyard.log-rate"
"""JSON of the service's LogRate, if it has one."""


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class LogRate:
    """`lines_per_s` on average for the service on each host, at most `burst` lines at once
    (0: five seconds' worth)."""

    lines_per_s: int
    burst: int = 0

    def __post_init__(self) -> None:
        if not _whole(self.lines_per_s, 1, MAX_LOG_RATE):
            raise Invalid(
                f"log_rate.lines_per_s {self.lines_per_s!r} is out of range: give a whole number "
                f"of lines per second from 1 to {MAX_LOG_RATE:,}, or leave it out for the "
                "platform's default",
                field="log_rate",
            )
        if not _whole(self.burst, 0, MAX_LOG_BURST):
            raise Invalid(
                f"log_rate.burst {self.burst!r} is out of range: give 0 (five seconds' worth) "
                f"to {MAX_LOG_BURST:,} lines",
                field="log_rate",
            )


def log_rate_of(data: Any) -> LogRate | None:
    """A stored or given log rate: null, a number of lines per second, or the object."""
    if data is None:
        return None
    if isinstance(data, int) and not isinstance(data, bool):
        return LogRate(lines_per_s=data)
    if not isinstance(data, dict):
        raise Invalid(f"log_rate {data!r} is not an object", field="log_rate")
    return LogRate(**data)


def rate_labels(rate: LogRate | None) -> dict[str, str]:
    """The label that tells the host agent the service's budget (none without one)."""
    if rate is None:
        return {}
    return {LABEL_LOG_RATE: json.dumps(asdict(rate), separators=(",", ":"))}


def rate_of_labels(labels: dict[str, str]) -> LogRate | None:
    """The budget a container's labels name; Invalid if the label is malformed."""
    text = labels.get(LABEL_LOG_RATE)
    if not text:
        return None
    try:
        return log_rate_of(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"label {LABEL_LOG_RATE} is malformed: {exc}", field="labels") from exc
