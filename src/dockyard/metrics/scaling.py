"""The autoscaler's decision: from a policy, the latest figures of one environment, its current
replica count and what earlier decisions remembered, the replica count it should have now.

Pure: no I/O and no clock; the loop (controller/autoscaler.py) gathers the figures and writes
what is decided. The rules follow the HPA (ratio to target, tolerance, stabilisation windows
over past recommendations, step limits) and Knative's KPA (panic on a sharp rise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from dockyard.domain.autoscaling import Policy

STALE_S = 10.0
"""A figure older than this is no figure: the autoscaler holds rather than act on it."""


@dataclass(frozen=True)
class Sample:
    """The environment's utilisation at one moment: the average over its instances of each
    instance's figure as a per cent of its limit."""

    at: datetime
    percent: float
    instances: int


@dataclass(frozen=True)
class State:
    """What a decision leaves for the next: recommendations of the longest stabilisation
    window, until when panic lasts, and since when figures have been seen without a gap
    (a restarted server waits a whole down window before it scales down)."""

    recommendations: tuple[tuple[datetime, int], ...] = ()
    panic_until: datetime | None = None
    observing_since: datetime | None = None


class Action(StrEnum):
    UP = "up"
    DOWN = "down"
    STEADY = "steady"
    HOLD = "hold"
    """No decision could be made (paused, no figures): `reason` says why."""


@dataclass(frozen=True)
class Decision:
    action: Action
    replicas: int
    reason: str
    state: State
    figure: float | None = None
    """The figure used, as a per cent of the target (what the portal charts)."""
    panicking: bool = False


def decide(
    policy: Policy,
    samples: tuple[Sample, ...],
    current: int,
    state: State,
    now: datetime,
    *,
    paused: str | None = None,
) -> Decision:
    """The decision for now. `samples` are oldest first; `paused` is why the environment is
    paused, None if it is not. Missing or stale figures hold (and forget the streak of
    figures seen), never scale."""
    if paused is not None:
        return Decision(
            Action.HOLD, current, f"paused: {paused}", replace(state, observing_since=None)
        )
    fresh = tuple(s for s in samples if now - s.at <= timedelta(seconds=STALE_S) and s.instances)
    if not fresh or now - fresh[-1].at > timedelta(seconds=STALE_S):
        return Decision(Action.HOLD, current, _missing(samples, now), State())
    since = state.observing_since or fresh[-1].at
    ratio = _average(fresh, now, policy.window_s) / policy.target_percent
    panic_ratio = _average(fresh, now, policy.panic_window_s) / policy.target_percent
    panic_until = state.panic_until if state.panic_until and state.panic_until > now else None
    if panic_ratio >= policy.panic_factor:
        panic_until = now + timedelta(seconds=policy.window_s)
    # The HPA's rule: the instances measured times the ratio. Instances asked for but not yet
    # measured (starting) do not count, so deciding again before they start adds nothing.
    measured = fresh[-1].instances
    raw = _recommendation(policy, ratio, measured, current)
    history = _remember(state.recommendations, now, raw, policy)
    if panic_until is not None:
        wanted = max(current, math.ceil(measured * max(panic_ratio, ratio)), raw)
        wanted = policy.clamp(wanted)
    else:
        wanted = _stabilised(policy, history, now, current, since)
    new_state = State(history, panic_until, since)
    action = Action.UP if wanted > current else Action.DOWN if wanted < current else Action.STEADY
    figure = round(max(ratio, panic_ratio if panic_until else 0.0) * 100, 1)
    return Decision(
        action, wanted, _reason(policy, figure, current, wanted, panic_until is not None),
        new_state, figure, panic_until is not None,
    )  # fmt: skip


def _missing(samples: tuple[Sample, ...], now: datetime) -> str:
    if not samples:
        return "holding: no figures from the agent yet"
    age = (now - samples[-1].at).total_seconds()
    return f"holding: no figures for {age:.0f} s (agent unreachable or instances not measured)"


def _average(samples: tuple[Sample, ...], now: datetime, window_s: float) -> float:
    """Average of the samples of the last `window_s` (the latest alone if none is that young)."""
    start = now - timedelta(seconds=window_s)
    inside = [s.percent for s in samples if s.at > start] or [samples[-1].percent]
    return sum(inside) / len(inside)


def _recommendation(policy: Policy, ratio: float, measured: int, current: int) -> int:
    """`measured` x ratio, unless the ratio is within the tolerance of 1 (then `current`)."""
    if abs(ratio - 1) <= policy.tolerance:
        return policy.clamp(current)
    return policy.clamp(math.ceil(measured * ratio - 1e-9))


def _remember(
    past: tuple[tuple[datetime, int], ...], now: datetime, replicas: int, policy: Policy
) -> tuple[tuple[datetime, int], ...]:
    keep = timedelta(seconds=max(policy.up_window_s, policy.down_window_s))
    return (*(r for r in past if now - r[0] <= keep), (now, replicas))


def _stabilised(
    policy: Policy,
    history: tuple[tuple[datetime, int], ...],
    now: datetime,
    current: int,
    since: datetime,
) -> int:
    """Up to the lowest recommendation of the up window, down to the highest of the down
    window, each within its step; no scale-down before a whole down window was observed.
    A count outside the policy's bounds (the policy just changed) goes to the bound at once."""
    if policy.clamp(current) != current:
        return policy.clamp(current)
    up_floor = _within(history, now, policy.up_window_s)
    down_ceiling = _within(history, now, policy.down_window_s)
    if min(up_floor) > current:
        return policy.clamp(min(*up_floor, current + policy.up_step.allowed(current)))
    if max(down_ceiling) < current:
        if now - since < timedelta(seconds=policy.down_window_s):
            return policy.clamp(current)
        return policy.clamp(max(*down_ceiling, current - policy.down_step.allowed(current)))
    return policy.clamp(current)


def _within(history: tuple[tuple[datetime, int], ...], now: datetime, window_s: float) -> list[int]:
    start = now - timedelta(seconds=window_s)
    return [count for at, count in history if at >= start] or [history[-1][1]]


def _reason(policy: Policy, figure: float, current: int, wanted: int, panicking: bool) -> str:
    window = policy.panic_window_s if panicking else policy.window_s
    text = (
        f"autoscaler: {policy.metric.value} {figure:.0f} % of target over {window:g} s"
        f" → {current} → {wanted}"
    )
    return text + " (panic)" if panicking else text
