"""The leader's ServiceNoReadyInstances alarm over what the reconciler really writes: a
service whose instances all fail their checks fires after the grace, and resolves once one
is ready again."""

from __future__ import annotations

from datetime import timedelta

import httpx

from dockyard.controller.readiness_alarms import ReadinessWatch
from dockyard.metrics.alert_outbox import AlertOutbox
from dockyard.metrics.readiness_alarms import NO_READY, ReadinessAlarms, ReadinessRules
from dockyard.store.readiness import ServiceReadiness, readiness

from .conftest import Harness


async def _until_ready(harness: Harness, count: int) -> None:
    for _ in range(30):
        if len(harness.ready_ids()) == count:
            return
        await harness.step()
    raise AssertionError(f"never {count} ready: {harness.view().status}")


async def test_service_without_ready_instances_fires_then_resolves(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    rules = ReadinessRules(grace=timedelta(seconds=10))
    async with httpx.AsyncClient() as client:
        outbox = AlertOutbox("http://127.0.0.1:1", client=client)
        watch = ReadinessWatch(
            harness.db, outbox, clock=harness.clock, alarms=ReadinessAlarms(rules)
        )
        assert await watch.look() == []
        ids = {i.id for i in harness.view().instances}
        for iid in ids:
            harness.runtime.set_probe(iid, False)
        await _until_ready(harness, 0)
        assert await watch.look() == []  # within the grace
        harness.clock.advance(11)
        (firing,) = await watch.look()
        for iid in ids:
            harness.runtime.set_probe(iid, True)
        await _until_ready(harness, 2)
        (resolved,) = await watch.look()
    assert firing.name == resolved.name == NO_READY
    assert firing.identity.labels() == {"team": "pay", "service": "web", "env": "test"}
    assert firing.ends_at > harness.clock()
    assert resolved.ends_at == harness.clock()
    assert outbox.pending == 1  # the resolution replaced the firing alert not yet sent


async def test_readiness_counts_ready_instances_of_every_revision(harness: Harness) -> None:
    harness.deploy(replicas=2)
    await harness.settle()
    harness.deploy(image="img/web:2")
    await harness.step()  # mid-rollout: one new instance ready, the old two still serve
    assert harness.view().status.ready == 1  # the status counts the current revision only
    with harness.db.session() as s:
        assert readiness(s) == [ServiceReadiness("pay", "web", "test", desired=2, ready=3)]
