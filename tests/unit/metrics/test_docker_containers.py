"""What the agent takes from the engine's inspect for a container's metrics."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.agent.metrics import started_of, unix_time
from dockyard.metrics.instances import Started


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-06T22:10:11.123456789Z", 1796595011.123456),
        ("2026-12-06T22:10:11Z", 1796595011.0),
        ("2026-12-06T22:10:11.5+01:00", 1796591411.5),
        ("", 0.0),
        ("yesterday", 0.0),
    ],
)
def test_engine_times_with_nanoseconds(text: str, expected: float) -> None:
    assert unix_time(text) == expected


RUNNING = {"Running": True, "Pid": 4242, "StartedAt": "2026-12-06T22:10:11Z"}


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"State": RUNNING, "RestartCount": 2}, Started(4242, 1796595011.0, 2, None)),
        ({"State": {**RUNNING, "Health": {"Status": "unhealthy", "FailingStreak": 3}}},
         Started(4242, 1796595011.0, 0, 3)),
        ({"State": {**RUNNING, "Running": False, "Pid": 0}}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_started_of_inspect(info: dict[str, Any], expected: Started | None) -> None:
    assert started_of(info) == expected
