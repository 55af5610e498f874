"""The autoscaler's decision, by tables: a series of figures, one every 2 s as the loop reads
them, fed through `decide` with each decision applied; the replica counts it went through."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.domain.autoscaling import Metric, Policy, Step
from dockyard.domain.errors import Invalid
from dockyard.metrics.scaling import Action, Sample, State, decide

T0 = datetime(2026, 12, 7, tzinfo=UTC)
EVERY_S = 2.0


def policy(**changes: object) -> Policy:
    fields: dict[str, object] = {
        "min_replicas": 1, "max_replicas": 10, "metric": Metric.CPU, "target_percent": 50.0,
        "down_window_s": 20.0,
    }  # fmt: skip
    fields.update(changes)
    return Policy(**fields)  # type: ignore[arg-type]


@dataclass
class Run:
    """Replica counts after each figure, and the decisions made."""

    counts: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


def run(
    rule: Policy, figures: Sequence[float | None], *, start: int, paused: str | None = None
) -> Run:
    """Each figure is the environment's CPU % of the limit 2 s after the last; None: the agent
    gave nothing that round."""
    samples: list[Sample] = []
    state, current, out = State(), start, Run()
    for i, figure in enumerate(figures):
        now = T0 + timedelta(seconds=EVERY_S * i)
        if figure is not None:
            samples.append(Sample(now, figure, current))
        decision = decide(rule, tuple(samples[-40:]), current, state, now, paused=paused)
        state, current = decision.state, decision.replicas
        out.counts.append(current)
        out.reasons.append(decision.reason)
        out.actions.append(decision.action)
    return out


def test_steady_load_at_target_changes_nothing() -> None:
    out = run(policy(), [50, 52, 48, 55, 46, 50] * 5, start=3)
    assert set(out.counts) == {3}
    assert set(out.actions) == {Action.STEADY}


def test_a_rise_scales_up_by_the_ratio_within_the_up_step() -> None:
    # 90 % of the limit against a 50 % target: 4 x 1.8 = 7.2 -> 8, and 100 % allows +4.
    out = run(policy(), [90], start=4)
    assert out.counts == [8]
    assert out.reasons == ["autoscaler: cpu 180 % of target over 6 s → 4 → 8"]


def test_the_up_step_limits_one_decision() -> None:
    out = run(policy(up_step=Step(1)), [90, 90, 90], start=4)
    assert out.counts == [5, 6, 7]


def test_a_sharp_rise_panics_past_the_step_and_never_scales_down_while_panicking() -> None:
    rule = policy(up_step=Step(1), window_s=10.0, panic_window_s=2.0)
    out = run(rule, [40, 40, 160, 5, 5, 5, 5, 5], start=2)
    assert out.counts[2] == 7  # 2 x 320 % of target, at once, past the step of 1
    assert out.reasons[2].endswith("→ 2 → 7 (panic)")
    assert min(out.counts[2:]) == 7  # panic lasts a whole window: nothing goes down


def test_scale_down_waits_for_the_down_window_and_takes_its_highest_recommendation() -> None:
    rule = policy(down_window_s=20.0, down_step=Step(100, percent=True))
    figures = [50.0] * 11 + [10.0] * 15
    out = run(rule, figures, start=6)
    first_down = out.counts.index(next(c for c in out.counts if c < 6))
    # Load fell at index 11 (22 s); the highest recommendation of the last 20 s stays 6 until
    # the window holds only low ones: 20 s later, not at once.
    assert first_down == 11 + 10
    assert out.counts[-1] == 2  # 6 x 20 % of target = 1.2 -> 2


def test_a_restarted_autoscaler_observes_a_whole_down_window_before_scaling_down() -> None:
    out = run(policy(down_window_s=20.0), [10.0] * 12, start=6)
    assert out.counts[:10] == [6] * 10
    assert out.counts[10] < 6


@pytest.mark.parametrize(
    ("figure", "start", "expected"),
    [(500.0, 8, 10), (1.0, 1, 1), (0.0, 4, 2)],
    ids=["up-clamped-to-max", "down-clamped-to-min", "down-to-min-of-2"],
)
def test_counts_stay_within_min_and_max(figure: float, start: int, expected: int) -> None:
    rule = policy(min_replicas=2 if expected == 2 else 1, down_window_s=0.0,
                  down_step=Step(100, percent=True))  # fmt: skip
    out = run(rule, [figure] * 3, start=start)
    assert out.counts[-1] == expected


def test_missing_figures_hold_and_say_why() -> None:
    out = run(policy(), [None, None], start=3)
    assert out.counts == [3, 3]
    assert out.actions == [Action.HOLD, Action.HOLD]
    assert "no figures from the agent yet" in out.reasons[0]


def test_stale_figures_hold_rather_than_scale() -> None:
    out = run(policy(), [90.0] + [None] * 8, start=2)
    assert out.counts[0] == 4
    assert out.counts[-1] == 4
    assert out.actions[-1] == Action.HOLD
    assert "no figures for 16 s" in out.reasons[-1]


def test_a_paused_environment_holds_whatever_the_figures() -> None:
    out = run(policy(), [400.0, 400.0], start=2, paused="scaled by hand by bob")
    assert out.counts == [2, 2]
    assert out.reasons[0] == "paused: scaled by hand by bob"


def test_flapping_load_does_not_flap_the_count() -> None:
    # The service's load alternates every 2 s between 4 and 1 instances' worth at 100 %,
    # spread over however many instances run.
    rule = policy(down_window_s=30.0)
    samples: list[Sample] = []
    state, current, counts = State(), 4, []
    for i in range(40):
        now = T0 + timedelta(seconds=EVERY_S * i)
        samples.append(Sample(now, (400.0 if i % 2 == 0 else 100.0) / current, current))
        decision = decide(rule, tuple(samples[-40:]), current, state, now)
        state, current = decision.state, decision.replicas
        counts.append(current)
    moves = [b - a for a, b in itertools.pairwise(counts) if a != b]
    # Up at the first peaks (panic), then down in steps once the down window shows the
    # overshoot, then still: never up again after a step down, never back and forth.
    first_down = next(i for i, move in enumerate(moves) if move < 0)
    assert all(move > 0 for move in moves[:first_down])
    assert all(move < 0 for move in moves[first_down:])
    assert len(set(counts[-15:])) == 1


def test_a_count_outside_new_bounds_goes_to_the_bound_at_once() -> None:
    out = run(policy(max_replicas=3), [50.0], start=6)
    assert out.counts == [3]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_replicas": 5, "max_replicas": 2}, "max"),
        ({"target_percent": 0.0}, "target"),
        ({"down_window_s": -1.0}, "down_window_s"),
        ({"panic_factor": 1.0}, "panic_factor"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        policy(**changes)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("text", "current", "allowed"), [("4", 10, 4), ("100%", 3, 3), ("10%", 3, 1)]
)
def test_a_step_allows_a_count_or_a_per_cent(text: str, current: int, allowed: int) -> None:
    assert Step.parse(text, field="up_step").allowed(current) == allowed


def test_a_policy_survives_its_json() -> None:
    rule = policy(up_step=Step(3), down_step=Step(50, percent=True), panic_factor=3.0)
    assert Policy.from_json(rule.to_json()) == rule


def test_fields_absent_from_a_stored_policy_take_the_defaults() -> None:
    stored = {"min": 1, "max": 4, "metric": "memory", "target_percent": 80}
    assert Policy.from_json(stored) == Policy(
        min_replicas=1, max_replicas=4, metric=Metric.MEMORY, target_percent=80.0
    )
