"""Several segments serving one environment: instances fill the first, spill into the next, and
wait (naming every segment) only when all are full. The fake runtime limits how many instances
each segment network holds, as the IPAM driver does with its addresses."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Address

import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Exhausted, RuntimeFailure
from dockyard.domain.segment import Segment
from dockyard.store import segments

from .conftest import ADMIN, Harness


def add_segment(harness: Harness, name: str, cidr: str, *, age_s: float = 0) -> Segment:
    """A segment serving test, created `age_s` seconds before the harness's clock."""
    segment = Segment.parse(name=name, cidr=cidr, gateway=None, environments=["test"])
    with harness.db.session() as session:
        when = harness.clock() - timedelta(seconds=age_s)
        segments.create_segment(session, ADMIN, segment=segment, now=when)
    return segment


def networks_of_instances(harness: Harness) -> list[str]:
    return sorted(str(harness.runtime.spec_of(i.id).network) for i in harness.view().instances)


class RecordingNetworks:
    """A SegmentNetworks that makes nothing: it records each ensure, refusing those named."""

    def __init__(self, *, refuse: frozenset[str] = frozenset()) -> None:
        self.ensured: list[str] = []
        self._refuse = refuse

    async def ensure(self, segment: Segment) -> None:
        self.ensured.append(segment.name)
        if segment.name in self._refuse:
            raise RuntimeFailure(f"cannot make the network of segment {segment.name}")


def with_networks(harness: Harness, networks: RecordingNetworks) -> None:
    settings = ControllerSettings(progress_deadline_s=60, first_ready_window_s=0)
    harness.reconciler = Reconciler(
        harness.db, harness.runtime, clock=harness.clock, settings=settings, networks=networks
    )


async def test_instances_fill_the_oldest_segment_then_spill_into_the_next(
    harness: Harness,
) -> None:
    add_segment(harness, "b", "10.61.0.0/24", age_s=60)  # older, though later by name
    add_segment(harness, "a", "10.62.0.0/24")
    harness.runtime.limit_network("dyseg-b", capacity=2)
    harness.deploy(replicas=8)
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 8
    assert networks_of_instances(harness) == ["dyseg-a"] * 6 + ["dyseg-b"] * 2
    # Found full once, then skipped for the rest of the pass: not asked for every instance.
    assert harness.runtime.start_attempts["dyseg-b"] == 3


async def test_the_segment_holding_the_services_fixed_addresses_comes_first(
    harness: Harness,
) -> None:
    add_segment(harness, "a", "10.61.0.0/24", age_s=60)
    add_segment(harness, "b", "10.62.0.0/24")
    with harness.db.session() as session:
        segments.add_fixed(
            session, ADMIN, team="pay", service="web", env=Environment.TEST,
            address=IPv4Address("10.62.0.10"), now=harness.clock(),
        )  # fmt: skip
    harness.deploy(replicas=2)
    await harness.settle()
    assert networks_of_instances(harness) == ["dyseg-b", "dyseg-b"]


async def test_with_every_segment_full_instances_wait_naming_each_and_resume_on_room(
    harness: Harness,
) -> None:
    add_segment(harness, "a", "10.61.0.0/24", age_s=60)
    add_segment(harness, "b", "10.62.0.0/24")
    harness.runtime.limit_network("dyseg-a", capacity=1)
    harness.runtime.limit_network("dyseg-b", capacity=2)
    harness.deploy(replicas=4)
    with pytest.raises(Exhausted):
        await harness.step()
    view = harness.view()
    assert view.status.phase == "unavailable"
    assert view.status.message.startswith(
        "all 2 segments serving test are exhausted: a (1 of 1 used), b (2 of 2 used)"
    )
    assert len(view.instances) == 3, "what could start keeps running"
    harness.runtime.limit_network("dyseg-a", capacity=2)  # an address of a was released
    view = await harness.settle()
    assert view.status.phase == "available" and view.status.ready == 4
    assert networks_of_instances(harness) == ["dyseg-a"] * 2 + ["dyseg-b"] * 2


async def test_each_segment_network_is_made_sure_of_once_per_pass_before_use(
    harness: Harness,
) -> None:
    add_segment(harness, "a", "10.61.0.0/24", age_s=60)
    add_segment(harness, "b", "10.62.0.0/24")
    harness.runtime.limit_network("dyseg-a", capacity=1)
    networks = RecordingNetworks()
    with_networks(harness, networks)
    harness.deploy(replicas=3)
    await harness.step()
    assert networks.ensured == ["a", "b"]
    assert networks_of_instances(harness) == ["dyseg-a", "dyseg-b", "dyseg-b"]


async def test_a_segment_whose_network_cannot_be_made_is_passed_over(harness: Harness) -> None:
    add_segment(harness, "a", "10.61.0.0/24", age_s=60)
    add_segment(harness, "b", "10.62.0.0/24")
    with_networks(harness, RecordingNetworks(refuse=frozenset({"a"})))
    harness.deploy(replicas=2)
    view = await harness.settle()
    assert view.status.phase == "available"
    assert networks_of_instances(harness) == ["dyseg-b", "dyseg-b"]
    assert harness.runtime.start_attempts["dyseg-a"] == 0
