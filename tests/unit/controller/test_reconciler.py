"""The reconcile pass against the fake runtime: convergence, rollouts, healing, failures."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Exhausted, Unavailable
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec, Owner, RunState
from dockyard.domain.spec import DEFAULT_DRAIN_S, ServiceSpec
from dockyard.domain.status import EnvPhase, Health
from dockyard.runtimes.base import ProbeResult

from .conftest import Harness


async def test_first_deploy_starts_ready_instances_with_owner_labels(harness: Harness) -> None:
    harness.deploy(replicas=3)
    view = await harness.settle()
    assert view.status.phase == "available"
    assert (view.status.ready, view.status.desired) == (3, 3)
    observed = await harness.runtime.list(Owner(team="pay", service="web"))
    assert len(observed) == 3
    assert {o.revision for o in observed} == {1}
    assert {o.state for o in observed} == {RunState.RUNNING}


async def test_scaling_keeps_running_instances(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    before = harness.ready_ids()
    harness.scale(5)
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 5
    assert before <= harness.ready_ids(), "scale-out restarted an existing instance"
    harness.scale(1)
    view = await harness.settle()
    assert len(view.instances) == 1 and harness.runtime.destroys == 4


async def test_rollout_never_drops_below_replicas_and_retires_old(harness: Harness) -> None:
    harness.deploy(replicas=3)
    await harness.settle()
    old = harness.ready_ids()
    harness.deploy(image="img/web:2")
    for _ in range(30):
        await harness.step()
        assert len(harness.ready_ids()) >= 3, "availability dropped during the rollout"
        if harness.phase() is EnvPhase.AVAILABLE:
            break
    assert harness.phase() is EnvPhase.AVAILABLE
    assert not (old & harness.ready_ids())
    observed = await harness.runtime.list(Owner(team="pay"))
    assert {o.revision for o in observed} == {2} and len(observed) == 3


async def test_crashed_instance_restarts_in_place_after_backoff(harness: Harness) -> None:
    harness.deploy(replicas=1)
    await harness.settle()
    (iid,) = harness.ready_ids()
    harness.runtime.emit(iid, "starting", "panic: out of cheese")
    harness.runtime.crash(iid, exit_code=3)
    await harness.reconciler.reconcile(harness.key)
    (instance,) = harness.view().instances
    assert (instance.health, instance.exit_code) == ("crashed", 3)
    assert "out of cheese" in instance.last_log
    assert harness.phase() is EnvPhase.DEGRADED
    view = await harness.settle()
    (instance,) = view.instances
    assert (instance.id, instance.restarts, instance.health) == (iid, 1, "ready")


async def test_deleted_container_is_replaced(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    victim = sorted(harness.ready_ids())[0]
    harness.runtime.vanish(victim)
    view = await harness.settle()
    assert view.status.ready == 2 and victim not in harness.ready_ids()


async def test_crash_looping_rollout_fails_and_keeps_old_serving(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    old = harness.ready_ids()
    harness.deploy(image="img/web:broken")
    for _ in range(80):
        await harness.step(seconds=5)
        for o in await harness.runtime.list(Owner(team="pay")):
            if o.revision == 2 and o.state is RunState.RUNNING:
                harness.runtime.crash(o.instance_id, exit_code=1)
        if harness.phase() is EnvPhase.FAILED:
            break
    view = harness.view()
    assert view.status.phase == "failed"
    assert "crash-looping" in view.status.message
    assert old == harness.ready_ids(), "a failed rollout must leave the old instances serving"


async def test_unknown_image_fails_rollout_and_leaves_nothing(harness: Harness) -> None:
    harness.runtime.forget_image("img/web:missing")
    harness.deploy(image="img/web:missing", replicas=3)
    view = await harness.settle()
    assert view.status.phase == "failed"
    assert "img/web:missing" in view.status.message
    assert await harness.runtime.list(Owner(team="pay")) == []
    starts = harness.runtime.starts
    await harness.step()
    assert harness.runtime.starts == starts, "a failed rollout must stop trying"


async def test_progress_deadline_fails_a_rollout_that_never_gets_ready(harness: Harness) -> None:
    harness.deploy(replicas=1)
    await harness.settle()
    healthy_probe = harness.runtime.probe

    async def revision_two_never_ready(observed, check, *, port):  # type: ignore[no-untyped-def]
        if observed.revision == 2:
            return ProbeResult(ok=False, detail="connection refused")
        return await healthy_probe(observed, check, port=port)

    harness.runtime.probe = revision_two_never_ready  # type: ignore[method-assign]
    harness.deploy(image="img/web:2")
    view = await harness.settle(limit=120)
    assert view.status.phase == "failed"
    assert len(harness.ready_ids()) == 1


async def test_unavailable_runtime_writes_status_and_touches_nothing(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    harness.runtime.set_unavailable()
    with pytest.raises(Unavailable):
        await harness.reconciler.reconcile(harness.key)
    view = harness.view()
    assert view.status.phase == "unavailable" and len(view.instances) == 2
    harness.runtime.set_unavailable(False)
    assert (await harness.settle()).status.phase == "available"


async def test_interrupted_start_is_adopted_not_duplicated(harness: Harness) -> None:
    """A pass killed after starting a container but before writing status: next pass adopts."""
    harness.deploy(replicas=2)
    spec = ServiceSpec.from_json(harness.view().current.spec.to_json())  # type: ignore[union-attr]
    await harness.runtime.start(
        InstanceSpec(
            team="pay",
            service="web",
            env=harness.env,
            revision=1,
            instance_id=InstanceId("leftover01"),
            spec=spec,
        )
    )
    view = await harness.settle()
    assert view.status.ready == 2
    assert "leftover01" in harness.ready_ids()
    assert harness.runtime.starts == 2  # the leftover + one more, never three


async def test_deleted_service_is_emptied_then_purged(harness: Harness) -> None:
    from dockyard.store import services, status

    harness.deploy(replicas=2)
    await harness.settle()
    key = harness.key
    with harness.db.session() as s:
        services.delete_service(
            s, harness.change().who, team="pay", name="web", now=harness.clock()
        )
    await harness.reconciler.reconcile(key)
    with harness.db.session() as s:
        healths = {r.health for r in status.instance_records(s, key)}
    assert healths == {Health.DRAINING}, "instances drain before a deleted service stops"
    harness.clock.advance(DEFAULT_DRAIN_S)
    await harness.reconciler.reconcile(key)
    assert await harness.runtime.list(Owner(team="pay")) == []
    with harness.db.session() as s:
        assert status.desired(s, key) is None


async def test_ready_instance_failing_its_check_is_restarted(harness: Harness) -> None:
    harness.deploy(replicas=1)
    await harness.settle()
    (iid,) = harness.ready_ids()
    harness.runtime.set_probe(iid, False)
    for _ in range(4):
        await harness.step(seconds=1.1)
    (instance,) = harness.view().instances
    assert instance.health in (Health.UNHEALTHY, Health.STARTING)
    harness.runtime.set_probe(iid, True)
    view = await harness.settle()
    assert view.instances[0].restarts == 1 and view.status.phase == "available"


async def test_exhausted_segment_makes_instances_wait_not_fail(harness: Harness) -> None:
    """No free address: the rollout waits with the reason in status, and resumes once one is."""
    real_start = harness.runtime.start
    capacity = {"left": 2}

    async def start_within_capacity(spec):  # type: ignore[no-untyped-def]
        if capacity["left"] == 0:
            raise Exhausted("start: segment offline-a is exhausted (2 of 2 used)")
        capacity["left"] -= 1
        return await real_start(spec)

    harness.runtime.start = start_within_capacity  # type: ignore[method-assign]
    harness.deploy(replicas=3)
    with pytest.raises(Unavailable):
        await harness.reconciler.reconcile(harness.key)
    view = harness.view()
    assert view.status.phase == "unavailable"
    assert "exhausted (2 of 2 used)" in view.status.message
    assert len(view.instances) == 2, "what could start keeps running"
    capacity["left"] = 1  # an address was released elsewhere
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 3
