"""A small server-drawn chart (inline SVG, no script) of the figure each scaling decision used,
oldest to newest, against the target: the service page's scaling history at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 200.0, 40.0
FLOOR_PERCENT = 200.0
"""The chart's top is at least twice the target, so a target line always has room above."""


@dataclass(frozen=True)
class Sparkline:
    points: str
    """SVG polyline points, "x,y x,y ...", in a WIDTH x HEIGHT box (y grows downward)."""
    target_y: float
    """Where 100 % of the target is."""
    top_percent: float


def sparkline(figures: Sequence[float]) -> Sparkline | None:
    """The chart of `figures` (per cent of the target, oldest first); None for fewer than
    two (a line needs two points)."""
    if len(figures) < 2:
        return None
    top = max(FLOOR_PERCENT, *figures)
    step = WIDTH / (len(figures) - 1)
    points = " ".join(f"{i * step:.1f},{_y(value, top):.1f}" for i, value in enumerate(figures))
    return Sparkline(points, round(_y(100.0, top), 1), top)


def _y(percent: float, top: float) -> float:
    return HEIGHT - max(0.0, percent) / top * HEIGHT
