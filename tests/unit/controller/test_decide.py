"""What a pass decides from what it saw, by table: rollout failure, restarts, events, next look."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.decide import (
    Decision,
    Situation,
    decide,
    next_look,
    rollout_failure,
    transition_events,
)
from dockyard.domain.environment import Environment
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec, Strategy
from dockyard.domain.status import EnvKey, EnvPhase, Health, InstanceRecord
from dockyard.store.status import Desired, LastStatus
from dockyard.store.views import ReleaseView

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SETTINGS = ControllerSettings(progress_deadline_s=60, crash_loop_restarts=3)
SPEC = ServiceSpec(
    image="img/web:1",
    ports=(Port(8080),),
    health_check=HealthCheck(http_path="/", interval_s=5),
    strategy=Strategy(max_surge=1, max_unavailable=0),
)
R, S, U, C = Health.READY, Health.STARTING, Health.UNHEALTHY, Health.CRASHED


def desired(
    replicas: int = 2, *, revision: int = 2, deleting: bool = False, drain_s: float = 5
) -> Desired:
    release = ReleaseView(
        team="pay", service="web", env=Environment.TEST, number=revision,
        spec=replace(SPEC, drain_s=drain_s),
        replicas=replicas, cause="deploy", created_by="admin", created_at=NOW,
        template_hash="new",
    )  # fmt: skip
    return Desired(EnvKey(1, Environment.TEST), "pay", "web", release, deleting)


def record(iid: str, health: Health, *, template: str = "new", **kw: object) -> InstanceRecord:
    base = InstanceRecord(
        id=iid, revision=2, template_hash=template, runtime_id=f"c-{iid}", state="running",
        health=health, started_at=NOW - timedelta(seconds=10),
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def last(phase: EnvPhase, *, revision: int = 2, age_s: float = 10, msg: str = "") -> LastStatus:
    return LastStatus(phase, msg, revision, NOW - timedelta(seconds=age_s))


def situation(records: list[InstanceRecord], prev: LastStatus | None, **kw: object) -> Situation:
    return Situation(desired(**kw), tuple(records), prev, NOW)  # type: ignore[arg-type]


LOOPING = record("a", C, restarts=3, exit_code=1, last_log="boot\npanic: no config")

FAILURE_CASES = [
    # name, records, last status, desired kwargs, failure contains (None: not failed)
    ("first pass never fails", [record("a", S)], None, {}, None),
    ("rollout in time", [record("a", S)], last(EnvPhase.PROGRESSING, age_s=59), {}, None),
    (
        "rollout past the deadline",
        [record("a", R), record("b", S)],
        last(EnvPhase.PROGRESSING, age_s=61),
        {},
        "made no progress in 60 s: 1 of 2 new instances ready",
    ),
    (
        "the pass after a wait is not judged",
        [record("a", R), record("b", S)],
        last(EnvPhase.UNAVAILABLE, age_s=61),
        {},
        None,
    ),
    (
        "all ready past the deadline",
        [record("a", R), record("b", R)],
        last(EnvPhase.PROGRESSING, age_s=600),
        {},
        None,
    ),
    (
        "deadline counts from this revision only",
        [record("a", S)],
        last(EnvPhase.PROGRESSING, revision=1, age_s=600),
        {},
        None,
    ),
    (
        "crash loop",
        [LOOPING],
        last(EnvPhase.PROGRESSING),
        {},
        "crash-looping: instance a restarted 3 times, last exit code 1: panic: no config",
    ),
    ("crash loop of a ready instance", [record("a", R, restarts=5)], None, {}, None),
    (
        "an old template's crashes do not count",
        [replace(LOOPING, template_hash="old")],
        last(EnvPhase.PROGRESSING),
        {},
        None,
    ),
    ("settled revision never fails", [LOOPING], last(EnvPhase.AVAILABLE, age_s=600), {}, None),
    ("degraded revision never fails", [LOOPING], last(EnvPhase.DEGRADED), {}, None),
    (
        "failed stays failed",
        [record("a", R)],
        last(EnvPhase.FAILED, msg="revision 2 is crash-looping"),
        {},
        "revision 2 is crash-looping",
    ),
    (
        "a new revision clears the failure",
        [record("a", S)],
        last(EnvPhase.FAILED, revision=1, msg="old failure"),
        {},
        None,
    ),
    (
        "a deleted service never fails",
        [LOOPING],
        last(EnvPhase.PROGRESSING),
        {"deleting": True},
        None,
    ),
]


@pytest.mark.parametrize(
    ("records", "prev", "kw", "expected"),
    [case[1:] for case in FAILURE_CASES],
    ids=[case[0] for case in FAILURE_CASES],
)
def test_rollout_failure_table(
    records: list[InstanceRecord],
    prev: LastStatus | None,
    kw: dict[str, object],
    expected: str | None,
) -> None:
    failure = rollout_failure(situation(records, prev, **kw), SETTINGS)
    if expected is None:
        assert failure is None
    else:
        assert failure is not None and expected in failure


DUE = NOW - timedelta(seconds=1)
LATER = NOW + timedelta(seconds=1)

DECIDE_CASES = [
    # name, records, last, expected decision
    ("first deploy starts all", [], None, Decision(start=2)),
    ("steady state does nothing", [record("a", R), record("b", R)], None, Decision()),
    (
        "a crashed instance past its back-off restarts",
        [record("a", R), record("b", C, next_restart_at=DUE)],
        last(EnvPhase.DEGRADED),
        Decision(restart=("b",)),
    ),
    (
        "a crashed instance within its back-off waits",
        [record("a", R), record("b", C, next_restart_at=LATER)],
        last(EnvPhase.DEGRADED),
        Decision(),
    ),
    (
        "an old template's instance is removed, not restarted",
        [record("a", R), record("b", R), record("o", C, template="old", next_restart_at=DUE)],
        last(EnvPhase.PROGRESSING),
        Decision(remove=("o",)),
    ),
    (
        "a failed rollout starts nothing and says why",
        [replace(LOOPING, next_restart_at=LATER)],
        last(EnvPhase.PROGRESSING),
        Decision(failure="crash-looping"),
    ),
]


@pytest.mark.parametrize(
    ("records", "prev", "expected"),
    [case[1:] for case in DECIDE_CASES],
    ids=[case[0] for case in DECIDE_CASES],
)
def test_decide_table(
    records: list[InstanceRecord], prev: LastStatus | None, expected: Decision
) -> None:
    decision = decide(situation(records, prev), SETTINGS)
    assert (decision.start, set(decision.remove), decision.restart) == (
        expected.start,
        set(expected.remove),
        expected.restart,
    )
    if expected.failure is None:
        assert decision.failure is None
    else:
        assert decision.failure is not None and expected.failure in decision.failure


D = Health.DRAINING
IN_2S = NOW + timedelta(seconds=2)

DRAIN_CASES = [
    # name, replicas, drain_s, records, (drained, removed) ids
    ("scale in drains the ready ones", 1, 5, [record("a", R), record("b", R)], ({"a"}, set())),
    ("no drain period stops at once", 1, 0, [record("a", R), record("b", R)], (set(), {"a"})),
    ("unready instances go at once", 1, 5, [record("a", R), record("b", S)], (set(), {"b"})),
    (
        "draining within its period waits",
        1,
        5,
        [record("a", R), record("b", D, drain_until=IN_2S)],
        (set(), set()),
    ),
    (
        "draining past its period is removed",
        1,
        5,
        [record("a", R), record("b", D, drain_until=NOW)],
        (set(), {"b"}),
    ),
    (
        "a draining instance that exited is removed",
        1,
        5,
        [record("a", R), record("b", D, state="exited", drain_until=IN_2S)],
        (set(), {"b"}),
    ),
    (
        "draining ones are not counted: the wanted one is started",
        2,
        5,
        [record("a", R), record("b", D, drain_until=IN_2S)],
        (set(), set()),
    ),
    (
        "a rollout drains the old ready instance it retires",
        2,
        5,
        [record("a", R), record("b", R), record("o", R, template="old")],
        ({"o"}, set()),
    ),
]


@pytest.mark.parametrize(
    ("replicas", "drain_s", "records", "expected"),
    [case[1:] for case in DRAIN_CASES],
    ids=[case[0] for case in DRAIN_CASES],
)
def test_drain_table(
    replicas: int,
    drain_s: float,
    records: list[InstanceRecord],
    expected: tuple[set[str], set[str]],
) -> None:
    prev = last(EnvPhase.PROGRESSING)
    decision = decide(situation(records, prev, replicas=replicas, drain_s=drain_s), SETTINGS)
    assert (set(decision.drain), set(decision.remove)) == expected
    until = NOW + timedelta(seconds=drain_s)
    assert decision.drain_until == (until if decision.drain else None)


def test_draining_ones_are_not_counted_so_the_wanted_one_is_started() -> None:
    records = [record("a", R), record("b", D, drain_until=IN_2S)]
    decision = decide(situation(records, last(EnvPhase.PROGRESSING), replicas=2), SETTINGS)
    assert decision.start == 1


EVENT_CASES = [
    # name, last, phase now, expected event kinds
    ("first pass of a revision announces it", None, EnvPhase.PROGRESSING, ["rollout"]),
    (
        "reaching available is told once",
        last(EnvPhase.PROGRESSING),
        EnvPhase.AVAILABLE,
        ["available"],
    ),
    ("staying available is quiet", last(EnvPhase.AVAILABLE), EnvPhase.AVAILABLE, []),
    ("progressing is quiet", last(EnvPhase.PROGRESSING), EnvPhase.PROGRESSING, []),
    (
        "a new revision that fails at once",
        last(EnvPhase.AVAILABLE, revision=1),
        EnvPhase.FAILED,
        ["rollout", "failed"],
    ),
]


@pytest.mark.parametrize(
    ("prev", "phase", "kinds"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_transition_events_table(
    prev: LastStatus | None, phase: EnvPhase, kinds: list[str]
) -> None:
    events = transition_events(situation([], prev), phase, None)
    assert [kind for kind, _ in events] == kinds


def test_a_failure_event_carries_the_reason() -> None:
    events = transition_events(situation([], last(EnvPhase.PROGRESSING)), EnvPhase.FAILED, "why")
    assert events == [("failed", "why")]


LOOK_CASES = [
    # name, records, busy, seconds until the next look (None: the resync)
    ("nothing to watch", [], False, None),
    ("acting looks again soon", [], True, 0.2),
    ("a starting instance is probed soon", [record("a", S)], False, 0.2),
    ("a ready instance at its check interval", [record("a", R)], False, 5.0),
    (
        "a crashed instance when its back-off ends",
        [record("a", R), record("b", C, next_restart_at=NOW + timedelta(seconds=3))],
        False,
        3.0,
    ),
    (
        "a draining instance when its period ends",
        [record("a", R), record("b", D, drain_until=NOW + timedelta(seconds=2))],
        False,
        2.0,
    ),
    (
        "an overdue restart at once, but not in a hot loop",
        [record("b", C, next_restart_at=NOW - timedelta(seconds=3))],
        False,
        0.05,
    ),
]


@pytest.mark.parametrize(
    ("records", "busy", "expected"),
    [case[1:] for case in LOOK_CASES],
    ids=[case[0] for case in LOOK_CASES],
)
def test_next_look_table(records: list[InstanceRecord], busy: bool, expected: float | None) -> None:
    assert next_look(situation(records, None), SETTINGS, busy=busy) == expected
