"""The controller and IPAM: instances join their environment's segment network, and while IPAM
is unavailable new instances wait with that reason in status, running ones untouched."""

from __future__ import annotations

import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.errors import Unavailable
from dockyard.domain.instance import InstanceSpec, Observed
from dockyard.domain.principal import Principal
from dockyard.domain.segment import Segment
from dockyard.domain.status import EnvPhase
from dockyard.runtimes.fake import FakeRuntime
from dockyard.store import segments

from .conftest import Harness

ADMIN = Principal(token_id="t", name="admin", team=None)


class IpamDownRuntime(FakeRuntime):
    """A fake whose starts fail as Docker's do when its IPAM driver cannot reach etcd."""

    ipam_down = False

    async def start(self, spec: InstanceSpec) -> Observed:
        if self.ipam_down:
            raise Unavailable(
                "start: IPAM unavailable: etcd at http://127.0.0.1:2379 did not answer"
            )
        return await super().start(spec)


def add_segment(harness: Harness, name: str, env: str) -> None:
    segment = Segment.parse(name=name, cidr="10.60.0.0/24", gateway=None, environments=[env])
    with harness.db.session() as session:
        segments.create_segment(session, ADMIN, segment=segment, now=harness.clock())


async def test_instances_join_the_network_of_a_segment_serving_their_environment(
    harness: Harness,
) -> None:
    add_segment(harness, "off1", "test")
    harness.deploy(replicas=2)
    await harness.settle()
    specs = [harness.runtime.spec_of(i) for i in harness.ready_ids()]
    assert {spec.network for spec in specs} == {"dyseg-off1"}


async def test_without_a_segment_instances_stay_on_the_default_network(harness: Harness) -> None:
    add_segment(harness, "on1", "online")  # serves another environment
    harness.deploy(replicas=1)
    await harness.settle()
    assert [harness.runtime.spec_of(i).network for i in harness.ready_ids()] == [None]


async def test_ipam_unavailable_is_shown_in_status_and_running_instances_stay(
    harness: Harness,
) -> None:
    runtime = IpamDownRuntime(clock=harness.clock)
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=0)
    harness.runtime = runtime
    harness.reconciler = Reconciler(harness.db, runtime, clock=harness.clock, settings=settings)
    harness.deploy(replicas=1)
    await harness.settle()
    running = harness.ready_ids()
    runtime.ipam_down = True
    harness.scale(3)
    with pytest.raises(Unavailable):
        await harness.step()
    view = harness.view()
    assert "IPAM unavailable" in view.status.message
    assert {i.id for i in view.instances} == running and runtime.destroys == 0
    runtime.ipam_down = False
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 3


async def test_ipam_down_past_the_progress_deadline_does_not_fail_the_rollout(
    harness: Harness,
) -> None:
    runtime = IpamDownRuntime(clock=harness.clock)
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=0)
    harness.runtime = runtime
    harness.reconciler = Reconciler(harness.db, runtime, clock=harness.clock, settings=settings)
    harness.deploy(replicas=1)
    await harness.settle()
    runtime.ipam_down = True
    harness.scale(3)
    for _ in range(10):  # 10 minutes of passes, all waiting
        with pytest.raises(Unavailable):
            await harness.reconciler.reconcile(harness.key)
        assert harness.phase() is EnvPhase.UNAVAILABLE
        harness.clock.advance(60)
    runtime.ipam_down = False
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 3
