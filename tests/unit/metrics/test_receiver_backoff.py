"""How long a delivery waits before its next attempt: exponential, capped, or the receiver's
own Retry-After (seconds or an HTTP date), bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.metrics.receivers import backoff_s

NOW = datetime(2026, 12, 7, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (4, None, 8.0),
        (10, None, 30.0),
        (1, "3", 3.0),
        (3, "0", 0.0),
        (1, "3600", 60.0),
        (1, "Mon, 07 Dec 2026 01:00:07 GMT", 7.0),
        (1, "Mon, 07 Dec 2026 00:59:00 GMT", 0.0),
        (2, "soon", 2.0),
        (2, "", 2.0),
        (2, "-5", 2.0),
    ],
)
def test_backoff_doubles_or_follows_retry_after(
    attempt: int, retry_after: str | None, expected: float
) -> None:
    assert backoff_s(attempt, retry_after=retry_after, clock=lambda: NOW) == expected
