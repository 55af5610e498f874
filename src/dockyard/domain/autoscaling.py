"""An autoscaling policy: what one service in one environment scales on, within which bounds,
how fast, and how patiently (metrics/scaling.py decides with it; store/autoscaling.py keeps it).

PromQL targets are not here yet: a policy targets CPU or memory, as a per cent of each
instance's limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dockyard.domain.errors import Invalid
from dockyard.domain.spec import MAX_REPLICAS

MAX_TARGET_PERCENT = 1000
MAX_WINDOW_S = 3600.0
_STEP = re.compile(r"([0-9]+)(%?)")


class Metric(StrEnum):
    """What a target is a per cent of: CPU time of the CPU limit, working set of the memory
    limit (both per instance, averaged over the environment's instances)."""

    CPU = "cpu"
    MEMORY = "memory"


@dataclass(frozen=True)
class Step:
    """The most one decision may change the replica count by: `amount` instances, or
    `amount` per cent of the current count (at least one)."""

    amount: int
    percent: bool = False

    @classmethod
    def parse(cls, text: str, *, field: str) -> Step:
        """`4` (instances) or `100%` (of the current count)."""
        found = _STEP.fullmatch(text.strip())
        if found is None or int(found.group(1)) < 1:
            raise Invalid(f"{field} must be a count or a per cent, e.g. 4 or 100%", field=field)
        return cls(int(found.group(1)), percent=found.group(2) == "%")

    def allowed(self, current: int) -> int:
        """How many instances a decision from `current` may add or remove."""
        if not self.percent:
            return self.amount
        return max(1, math.ceil(current * self.amount / 100))

    def __str__(self) -> str:
        return f"{self.amount}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Policy:
    """One environment's autoscaling. Windows are in seconds.

    - `window_s`: the figure a decision uses is the average over this window.
    - `up_window_s` / `down_window_s`: stabilisation, as the HPA does: scale up to the lowest
      and down to the highest recommendation of the window, so a short dip never scales down.
    - `panic_window_s`, `panic_factor`: when the average over the short panic window exceeds
      `panic_factor` x target, scale up at once (no up window, no step limit) and never scale
      down until a whole `window_s` passed without panic (Knative's KPA).
    - `tolerance`: a figure within this fraction of the target changes nothing.
    """

    min_replicas: int
    max_replicas: int
    metric: Metric
    target_percent: float
    up_step: Step = Step(100, percent=True)
    down_step: Step = Step(1)
    window_s: float = 6.0
    up_window_s: float = 0.0
    down_window_s: float = 60.0
    panic_window_s: float = 2.0
    panic_factor: float = 2.0
    tolerance: float = 0.1

    def __post_init__(self) -> None:
        _require(0 <= self.min_replicas <= MAX_REPLICAS, f"min must be 0-{MAX_REPLICAS}", "min")
        _require(
            max(1, self.min_replicas) <= self.max_replicas <= MAX_REPLICAS,
            f"max must be at least min (and 1) and at most {MAX_REPLICAS}",
            "max",
        )
        _require(
            0 < self.target_percent <= MAX_TARGET_PERCENT,
            f"the target must be more than 0 and at most {MAX_TARGET_PERCENT} %",
            "target",
        )
        for name in ("window_s", "up_window_s", "down_window_s", "panic_window_s"):
            value = getattr(self, name)
            _require(0 <= value <= MAX_WINDOW_S, f"{name} must be 0-{MAX_WINDOW_S:g} s", name)
        _require(self.window_s > 0, "window_s must be more than 0 s", "window_s")
        _require(self.panic_factor > 1, "panic_factor must be more than 1", "panic_factor")
        _require(0 <= self.tolerance < 1, "tolerance must be 0-0.99", "tolerance")

    def clamp(self, replicas: int) -> int:
        return min(self.max_replicas, max(self.min_replicas, replicas))

    def to_json(self) -> dict[str, Any]:
        return {
            "min": self.min_replicas,
            "max": self.max_replicas,
            "metric": self.metric.value,
            "target_percent": self.target_percent,
            "up_step": str(self.up_step),
            "down_step": str(self.down_step),
            "window_s": self.window_s,
            "up_window_s": self.up_window_s,
            "down_window_s": self.down_window_s,
            "panic_window_s": self.panic_window_s,
            "panic_factor": self.panic_factor,
            "tolerance": self.tolerance,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Policy:
        """The inverse of `to_json`; Invalid names the first bad field."""
        try:
            metric = Metric(data["metric"])
        except (KeyError, ValueError) as exc:
            raise Invalid("metric must be cpu or memory", field="metric") from exc
        # A field absent from `data` (stored before it existed) takes the class's default.
        return cls(
            min_replicas=int(data["min"]),
            max_replicas=int(data["max"]),
            metric=metric,
            target_percent=float(data["target_percent"]),
            up_step=Step.parse(str(data.get("up_step", cls.up_step)), field="up_step"),
            down_step=Step.parse(str(data.get("down_step", cls.down_step)), field="down_step"),
            window_s=float(data.get("window_s", cls.window_s)),
            up_window_s=float(data.get("up_window_s", cls.up_window_s)),
            down_window_s=float(data.get("down_window_s", cls.down_window_s)),
            panic_window_s=float(data.get("panic_window_s", cls.panic_window_s)),
            panic_factor=float(data.get("panic_factor", cls.panic_factor)),
            tolerance=float(data.get("tolerance", cls.tolerance)),
        )


def _require(ok: bool, message: str, field: str) -> None:
    if not ok:
        raise Invalid(message, field=field)
