"""Endpoints, their version and the stable-fallback rule: pure decisions, by table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dockyard.discovery.endpoints import answer, candidates, endpoints_of, fingerprint, serves
from dockyard.domain.environment import Environment
from dockyard.domain.spec import Port
from dockyard.domain.status import Health, InstanceRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TEST, STABLE, SANDBOX, ONLINE = (
    Environment.TEST,
    Environment.STABLE,
    Environment.SANDBOX,
    Environment.ONLINE,
)


def rec(iid: str, health: Health = Health.READY, **fields: object) -> InstanceRecord:
    base = InstanceRecord(
        id=iid,
        revision=1,
        template_hash="h",
        runtime_id="r" + iid,
        state="running",
        health=health,
        ip="10.0.0." + str(len(iid)),
        ready_at=T0 if health is Health.READY else None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (rec("a"), True),
        (rec("a", Health.STARTING), False),
        (rec("a", Health.PENDING), False),
        (rec("a", Health.UNHEALTHY), False),
        (rec("a", Health.CRASHED), False),
        (rec("a", Health.STOPPING), False),
        (rec("a", Health.DRAINING, drain_until=T0), False),
        (rec("a", drain_until=T0), False),  # marked for drain: out whatever its health says
        (rec("a", ip=None), False),
        (rec("a", ip=""), False),
        (rec("a", state="exited"), False),
    ],
)
def test_only_ready_running_undrained_instances_with_an_address_serve(
    record: InstanceRecord, expected: bool
) -> None:
    assert serves(record) is expected


def test_endpoints_carry_their_revisions_ports_in_instance_order() -> None:
    old, new = (Port(8080),), (Port(8080), Port(9090, "udp", "metrics"))
    found = endpoints_of(
        [rec("b", revision=2), rec("a"), rec("c", Health.DRAINING)], {1: old, 2: new}
    )
    assert [(e.instance, e.ports, e.revision) for e in found] == [("a", old, 1), ("b", new, 2)]
    assert endpoints_of([rec("a", revision=7)], {})[0].ports == ()


@pytest.mark.parametrize(
    ("before", "after", "same"),
    [
        ([rec("a"), rec("b")], [rec("b"), rec("a")], True),  # order does not matter
        ([rec("a")], [rec("a"), rec("b", Health.STARTING)], True),  # not serving: no change
        ([rec("a")], [rec("a", health_failures=1, restarts=2)], True),  # unrelated fields
        ([rec("a")], [rec("a"), rec("b")], False),  # scale out
        ([rec("a"), rec("b")], [rec("a")], False),  # scale in
        ([rec("a")], [rec("a", Health.DRAINING)], False),  # drained
        ([rec("a")], [rec("a", ip="10.9.9.9")], False),
        ([rec("a")], [rec("a", revision=2)], False),
        ([rec("a")], [rec("a", ready_at=T0.replace(minute=1))], False),  # left and came back
        ([], [], True),
    ],
)
def test_fingerprint_changes_exactly_when_the_ready_set_does(
    before: list[InstanceRecord], after: list[InstanceRecord], same: bool
) -> None:
    assert (fingerprint(before) == fingerprint(after)) is same


@pytest.mark.parametrize(
    ("env", "fallback", "expected"),
    [
        (TEST, True, (TEST, STABLE)),
        (TEST, False, (TEST,)),
        (STABLE, True, (STABLE,)),
        (SANDBOX, True, (SANDBOX,)),  # online-network environments never fall back
        (ONLINE, True, (ONLINE,)),
        (ONLINE, False, (ONLINE,)),
    ],
)
def test_only_test_falls_back_and_only_to_stable(
    env: Environment, fallback: bool, expected: tuple[Environment, ...]
) -> None:
    assert candidates(env, fallback=fallback) == expected


READY_TEST = [rec("t1")]
READY_STABLE = [rec("s1"), rec("s2")]
STARTING = [rec("t9", Health.STARTING)]


@pytest.mark.parametrize(
    ("env", "found", "used", "instances"),
    [
        (TEST, [(TEST, READY_TEST), (STABLE, READY_STABLE)], TEST, ["t1"]),
        (TEST, [(TEST, []), (STABLE, READY_STABLE)], STABLE, ["s1", "s2"]),
        (TEST, [(TEST, STARTING), (STABLE, READY_STABLE)], STABLE, ["s1", "s2"]),
        (TEST, [(TEST, []), (STABLE, [])], TEST, []),  # nothing anywhere: the asked, empty
        (TEST, [(TEST, []), (ONLINE, READY_STABLE)], TEST, []),  # never across networks
        (SANDBOX, [(SANDBOX, []), (STABLE, READY_STABLE)], SANDBOX, []),
        (ONLINE, [(ONLINE, READY_TEST)], ONLINE, ["t1"]),
    ],
)
def test_fallback_answers_the_first_environment_with_ready_instances(
    env: Environment,
    found: list[tuple[Environment, list[InstanceRecord]]],
    used: Environment,
    instances: list[str],
) -> None:
    result = answer(env, found, {})
    assert (result.env, result.env_used) == (env, used)
    assert [e.instance for e in result.endpoints] == instances


def test_the_version_names_the_environment_used() -> None:
    """The same instances answered from another environment are another answer."""
    from_test = answer(TEST, [(TEST, READY_TEST)], {})
    from_stable = answer(TEST, [(TEST, []), (STABLE, READY_TEST)], {})
    assert from_test.version != from_stable.version
    assert from_test.version == answer(TEST, [(TEST, READY_TEST)], {}).version
