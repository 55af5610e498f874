"""Instances drain before they are stopped: marked draining (out of service, still running),
stopped by a later pass once the service's drain period has passed, whichever server runs it."""

from __future__ import annotations

from dataclasses import replace

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.instance import Owner, RunState
from dockyard.domain.spec import DEFAULT_DRAIN_S
from dockyard.domain.status import EnvPhase, Health
from dockyard.store import services

from .conftest import ADMIN, Harness


async def running(harness: Harness) -> int:
    observed = await harness.runtime.list(Owner(team="pay"))
    return sum(o.state is RunState.RUNNING for o in observed)


def healths(harness: Harness) -> list[str]:
    return sorted(i.health for i in harness.view().instances)


async def test_scale_in_drains_instances_before_stopping_them(harness: Harness) -> None:
    harness.deploy(replicas=5)
    await harness.settle()
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    assert healths(harness) == ["draining"] * 4 + ["ready"]
    assert await running(harness) == 5 and harness.runtime.destroys == 0
    view = harness.view()
    assert view.status.phase == "progressing" and "4 draining" in view.status.message

    harness.clock.advance(DEFAULT_DRAIN_S - 0.1)
    await harness.reconciler.reconcile(harness.key)
    assert await running(harness) == 5, "stopped before its drain period ended"

    harness.clock.advance(0.1)
    again = await harness.reconciler.reconcile(harness.key)
    assert await running(harness) == 1 and harness.runtime.destroys == 4
    assert healths(harness) == ["ready"] and harness.phase() is EnvPhase.AVAILABLE
    assert again is not None  # the ready one is still watched


async def test_a_drain_begun_by_a_server_that_died_is_finished_by_the_next(
    harness: Harness,
) -> None:
    harness.deploy(replicas=3)
    await harness.settle()
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    assert healths(harness).count("draining") == 2
    # A new server: nothing in memory, only the database and the runtime.
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=0)
    harness.reconciler = Reconciler(
        harness.db, harness.runtime, clock=harness.clock, settings=settings
    )
    harness.clock.advance(DEFAULT_DRAIN_S)
    await harness.reconciler.reconcile(harness.key)
    assert await running(harness) == 1 and healths(harness) == ["ready"]


async def test_draining_instances_are_not_probed_back_into_service(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    harness.clock.advance(1)
    await harness.reconciler.reconcile(harness.key)  # probes the ready one, not the draining
    assert healths(harness) == ["draining", "ready"]


async def test_a_service_without_a_drain_period_stops_instances_at_once(
    harness: Harness,
) -> None:
    with harness.db.session() as s:
        current = services.get_service(s, ADMIN, team="pay", name="web").spec
        services.update_service(
            s, ADMIN, team="pay", name="web", spec=replace(current, drain_s=0), now=harness.clock()
        )
    harness.deploy(replicas=3)
    await harness.settle()
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    assert await running(harness) == 1 and harness.runtime.destroys == 2
    assert Health.DRAINING not in healths(harness)
