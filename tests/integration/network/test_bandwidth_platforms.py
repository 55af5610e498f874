"""The agent's bandwidth part on an engine shared by two Dockyards: it shapes the containers of
the platform its server names, and leaves another platform's as they are."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import docker
import pytest

from dockyard.agent.bandwidth import BandwidthEnforcer
from dockyard.agent.limits import FixedLimits, LimitKey
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Observed, Owner, Platform
from dockyard.domain.spec import Bandwidth, ServiceSpec
from dockyard.network.bandwidth import Shaping
from dockyard.network.tc import TrafficControl
from dockyard.runtimes.docker.driver import DockerRuntime
from tests.support.fixtures import TEST_NETWORK
from tests.support.shaping import shaping_unavailable

_MISSING = shaping_unavailable()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
]


@pytest.fixture
def tc() -> Iterator[TrafficControl]:
    with TrafficControl() as control:
        yield control


def start(platform: Platform, *, team: str, image: str) -> Observed:
    # A plain test, not a coroutine: pyroute2 (TrafficControl) runs an event loop of its own.
    runtime = DockerRuntime(network=TEST_NETWORK, platform=platform)
    try:
        return asyncio.run(
            runtime.start(
                InstanceSpec(
                    team=team,
                    service="web",
                    env=Environment.TEST,
                    revision=1,
                    instance_id=new_instance_id(),
                    spec=ServiceSpec(image=image, args=("sleep", "300"), stop_grace_s=1),
                )
            )
        )
    finally:
        runtime.close()


def shaping(engine: docker.APIClient, tc: TrafficControl, observed: Observed) -> Shaping:
    pid = int(engine.inspect_container(observed.runtime_id)["State"]["Pid"])
    return tc.read(tc.veth_of(pid))


def test_the_agent_shapes_only_the_containers_of_its_servers_platform(
    docker_engine: docker.APIClient, docker_team: str, test_image: str, tc: TrafficControl
) -> None:
    ours, theirs = Platform(secrets.token_hex(8)), Platform(secrets.token_hex(8))
    mine = start(ours, team=docker_team, image=test_image)
    other = start(theirs, team=docker_team, image=test_image)  # the same key, elsewhere
    limits = FixedLimits(
        {LimitKey(docker_team, "web", Environment.TEST): Bandwidth(egress_mbit=20)},
        platform=ours,
    )
    enforcer = BandwidthEnforcer(
        engine=docker_engine, limits=limits, tc=tc, owner=Owner(team=docker_team)
    )

    report = enforcer.sync()

    assert (report.instances, report.changed, report.failed) == (1, 1, 0)
    assert not shaping(docker_engine, tc, mine).empty
    assert shaping(docker_engine, tc, other).empty
    assert enforcer.enforce(other.runtime_id) is None  # its start event is not ours either
