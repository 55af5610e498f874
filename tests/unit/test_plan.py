"""Rollout planning, by table: each row is (wanted, instances) -> (starts, removals)."""

from __future__ import annotations

import pytest

from dockyard.controller.plan import Member, Plan, Wanted, plan
from dockyard.domain.spec import Strategy
from dockyard.domain.status import Health

R, S, U, C, P = Health.READY, Health.STARTING, Health.UNHEALTHY, Health.CRASHED, Health.PENDING


def members(spec: str) -> list[Member]:
    """'new:R,R,S old:R' -> members; ids are template + index, age grows with the index."""
    out: list[Member] = []
    for part in spec.split():
        template, healths = part.split(":")
        for i, code in enumerate(healths.split(",")):
            health = {"R": R, "S": S, "U": U, "C": C, "P": P}[code]
            out.append(Member(id=f"{template}{i}", template=template, health=health, age_s=i))
    return out


CASES = [
    # name, replicas, surge, unavailable, paused, existing, start, removed
    ("first deploy starts all", 3, 1, 0, False, "", 3, set()),
    ("scale out starts the difference", 5, 1, 0, False, "new:R,R", 3, set()),
    ("scale in removes the youngest", 1, 1, 0, False, "new:R,R,R", 0, {"new0", "new1"}),
    ("scale in drops unready first", 2, 1, 0, False, "new:R,S,R", 0, {"new1"}),
    ("scale to zero removes all", 0, 1, 0, False, "new:R,R old:R", 0, {"new0", "new1", "old0"}),
    ("steady state does nothing", 3, 1, 0, False, "new:R,R,R", 0, set()),
    ("rollout surges one", 3, 1, 0, False, "old:R,R,R", 1, set()),
    ("rollout waits for the surge to be ready", 3, 1, 0, False, "new:S old:R,R,R", 0, set()),
    ("rollout retires one old per ready new", 3, 1, 0, False, "new:R old:R,R,R", 0, {"old0"}),
    ("rollout then surges again", 3, 1, 0, False, "new:R old:R,R", 1, set()),
    ("rollout finishes", 3, 1, 0, False, "new:R,R,R old:R", 0, {"old0"}),
    ("max unavailable frees room first", 3, 0, 1, False, "old:R,R,R", 0, {"old0"}),
    ("max unavailable then starts", 3, 0, 1, False, "old:R,R", 1, set()),
    ("unready old go at once", 3, 1, 0, False, "old:C,R,R", 1, {"old0"}),
    ("big surge starts all new", 3, 3, 0, False, "old:R,R,R", 3, set()),
    ("paused rollout starts nothing", 3, 1, 0, True, "new:C old:R,R,R", 0, set()),
    ("paused keeps ready old, drops dead old", 3, 1, 0, True, "new:C old:R,R,C", 0, {"old2"}),
    ("paused first deploy starts nothing", 3, 1, 0, True, "new:C", 0, set()),
    ("too many current during rollout", 2, 1, 0, False, "new:R,R,R old:R", 0, {"new0", "old0"}),
]


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "paused", "existing", "start", "removed"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan_table(
    replicas: int,
    surge: int,
    unavailable: int,
    paused: bool,
    existing: str,
    start: int,
    removed: set[str],
) -> None:
    wanted = Wanted(
        template="new", replicas=replicas, strategy=Strategy(surge, unavailable), paused=paused
    )
    result = plan(wanted, members(existing))
    assert result.start == start
    assert set(result.remove) == removed


def test_nothing_deployed_removes_everything() -> None:
    assert set(plan(Wanted(None, 3), members("x:R,S")).remove) == {"x0", "x1"}


def test_stopping_members_are_neither_counted_nor_removed_again() -> None:
    existing = [Member("a", "new", Health.STOPPING), *members("new:R,R")]
    assert plan(Wanted("new", 3), existing) == Plan(start=1)


def test_draining_members_are_neither_counted_nor_removed_again() -> None:
    existing = [Member("a", "new", Health.DRAINING), *members("new:R,R")]
    assert plan(Wanted("new", 3), existing) == Plan(start=1)
    assert plan(Wanted("new", 1), existing) == Plan(remove=("new0",))


# Every strategy the domain accepts (both zero is refused by Strategy itself).
STRATEGIES = [(s, u) for s in range(3) for u in range(3) if s + u > 0]


@pytest.mark.parametrize(("surge", "unavailable"), STRATEGIES)
def test_simulated_rollout_never_drops_below_floor_and_finishes(
    surge: int, unavailable: int
) -> None:
    """Apply plans step by step (new instances become ready a step later) until done."""
    n = 4
    wanted = Wanted("new", n, Strategy(surge, unavailable))
    state = members("old:R,R,R,R")
    counter = 0
    for _ in range(50):
        state = [Member(m.id, m.template, R) for m in state]  # what was starting is now ready
        step = plan(wanted, state)
        if step.idle:
            break
        state = [m for m in state if m.id not in step.remove]
        ready = sum(m.ready for m in state)
        assert ready >= n - unavailable, "removed below the availability floor"
        assert len(state) + step.start <= n + surge, "surged past the ceiling"
        for _ in range(step.start):
            counter += 1
            state.append(Member(f"n{counter}", "new", S))
    assert sorted(m.template for m in state) == ["new"] * n
    assert all(m.ready for m in state)
