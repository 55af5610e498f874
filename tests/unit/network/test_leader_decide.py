"""The leader's pure rule: campaign when not leading, keep a fresh lease, refresh at a third of
the TTL, step down at two thirds without a successful refresh (before etcd can expire it)."""

from __future__ import annotations

import pytest

from dockyard.network.leader import Action, Holder, decide

TTL = 9.0


@pytest.mark.parametrize(
    ("confirmed_at", "now", "action", "wait_s"),
    [
        (None, 100.0, Action.CAMPAIGN, TTL / 5),
        (100.0, 100.0, Action.KEEP, 3.0),
        (100.0, 102.0, Action.KEEP, 1.0),
        (100.0, 103.0, Action.REFRESH, 0.9),
        (100.0, 105.5, Action.REFRESH, 0.5),  # retries end at the step-down deadline
        (100.0, 106.0, Action.STEP_DOWN, 0.0),
        (100.0, 130.0, Action.STEP_DOWN, 0.0),  # a process frozen for long steps down first
    ],
)
def test_decision_follows_the_age_of_the_last_refresh(
    confirmed_at: float | None, now: float, action: Action, wait_s: float
) -> None:
    decision = decide(confirmed_at, now=now, ttl_s=TTL)
    assert decision.action is action
    assert decision.wait_s == pytest.approx(wait_s)


def test_step_down_comes_before_the_lease_can_expire_for_every_ttl() -> None:
    for ttl in (2.0, 10.0, 60.0):
        first_step_down = next(
            t / 100 for t in range(0, 100 * int(ttl) + 1)
            if decide(0.0, now=t / 100, ttl_s=ttl).action is Action.STEP_DOWN
        )  # fmt: skip
        assert first_step_down <= ttl * 2 / 3 + 0.01 < ttl


def test_holder_round_trips_and_foreign_values_are_not_holders() -> None:
    holder = Holder("host-a", 42, "2024-01-01T00:00:00+00:00", lease=0x1234)
    assert Holder.decode(holder.encode()) == holder
    assert "host-a pid 42" in holder.describe()
    assert Holder.decode(b"not json") is None
    assert Holder.decode(b'{"host": "x"}') is None
