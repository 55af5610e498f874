"""Shared benchmark plumbing: a Dockyard server in a child process, and small statistics.

Benchmarks print their figures next to a baseline measured in the same run, because this
machine is shared and noisy: only ratios from one run mean much.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.server import ServerProcess, running_server


@contextlib.contextmanager
def dockyard_server(
    *, network: str = "dockyard-bench", extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """`dockyard server` on a free loopback port over a fresh, throwaway state directory."""
    with (
        tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp,
        running_server(Path(tmp), network=network, extra_env=extra_env) as server,
    ):
        yield server


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
