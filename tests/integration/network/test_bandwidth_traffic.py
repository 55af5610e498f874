"""Bandwidth limits with real traffic between containers on one Docker bridge network.

Three busybox containers, started exactly as the Docker runtime starts instances (labels and
all), on a bridge network this module creates: `limited` (the instance under test), `neighbour`
(same host and bridge, never limited) and `peer` (the other end of every measurement). The
agent's BandwidthEnforcer shapes them from an in-memory limits source. Only these containers'
namespaces carry traffic.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest
from pyroute2 import IPRoute

from dockyard.agent.bandwidth import BandwidthEnforcer
from dockyard.agent.limits import FixedLimits, LimitKey
from dockyard.domain.environment import Environment
from dockyard.domain.errors import NotFound
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Owner
from dockyard.domain.spec import Bandwidth, ServiceSpec
from dockyard.network.bandwidth import Shaping, htb_rate, ifb_name
from dockyard.network.tc import TrafficControl
from dockyard.runtimes.docker.container import create_kwargs
from tests.support.shaping import shaping_unavailable
from tests.support.throughput import Endpoint, measure_mbit, measure_together

_MISSING = shaping_unavailable()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
]

log = logging.getLogger(__name__)
TOLERANCE = 0.15  # the bound: within ±15 % of the limit
ENV = Environment.TEST
UNLIMITED = Bandwidth()


@dataclass(frozen=True)
class Instance:
    id: str
    service: str
    endpoint: Endpoint
    started_at: str


@dataclass
class Bench:
    engine: docker.APIClient
    team: str
    network: str
    image: str

    def start(self, service: str, bandwidth: Bandwidth = UNLIMITED) -> Instance:
        spec = InstanceSpec(
            team=self.team,
            service=service,
            env=ENV,
            revision=1,
            instance_id=new_instance_id(),
            spec=ServiceSpec(image=self.image, bandwidth=bandwidth),
        )
        kwargs = create_kwargs(spec, network=self.network, api_version=self.engine.api_version)
        container = self.engine.create_container(**kwargs)
        self.engine.start(container["Id"])
        return self.inspect(container["Id"], service)

    def inspect(self, container_id: str, service: str) -> Instance:
        data = self.engine.inspect_container(container_id)
        ip = data["NetworkSettings"]["Networks"][self.network]["IPAddress"]
        return Instance(
            id=data["Id"],
            service=service,
            endpoint=Endpoint(pid=data["State"]["Pid"], ip=ip),
            started_at=data["State"]["StartedAt"],
        )

    def key(self, instance: Instance) -> LimitKey:
        return LimitKey(self.team, instance.service, ENV)


@pytest.fixture(scope="module")
def network(docker_engine: docker.APIClient) -> Iterator[str]:
    name = "dyt-bw-" + secrets.token_hex(3)
    docker_engine.create_network(name, driver="bridge")
    yield name
    docker_engine.remove_network(name)


@pytest.fixture
def bench(
    docker_engine: docker.APIClient, docker_team: str, network: str, test_image: str
) -> Iterator[Bench]:
    yield Bench(docker_engine, docker_team, network, test_image)  # docker_team removes them


@pytest.fixture
def tc() -> Iterator[TrafficControl]:
    with TrafficControl() as control:
        yield control


def enforcer_for(bench: Bench, source: FixedLimits, tc: TrafficControl) -> BandwidthEnforcer:
    return BandwidthEnforcer(
        engine=bench.engine, limits=source, tc=tc, owner=Owner(team=bench.team), interval_s=0.2
    )


def assert_near(measured: float, limit: int, what: str) -> None:
    log.info("bandwidth: %s measured %.1f Mbit/s, limit %d", what, measured, limit)
    assert abs(measured - limit) <= TOLERANCE * limit, f"{what}: {measured:.1f} vs {limit}"


def test_limits_hold_both_ways_change_live_and_lift_while_the_neighbour_runs_free(
    bench: Bench, tc: TrafficControl
) -> None:
    limited = bench.start("limited")
    neighbour = bench.start("neighbour")
    peer = bench.start("peer")
    source = FixedLimits({bench.key(limited): Bandwidth(egress_mbit=30, ingress_mbit=20)})
    enforcer = enforcer_for(bench, source, tc)

    report = enforcer.sync()

    assert (report.instances, report.changed, report.failed) == (3, 1, 0)
    to_limited, to_neighbour = measure_together(
        (peer.endpoint, limited.endpoint, 5201), (peer.endpoint, neighbour.endpoint, 5202)
    )
    from_limited, from_neighbour = measure_together(
        (limited.endpoint, peer.endpoint, 5203), (neighbour.endpoint, peer.endpoint, 5204)
    )
    assert_near(to_limited, 20, "ingress (to the instance)")
    assert_near(from_limited, 30, "egress (from the instance)")
    log.info("bandwidth: neighbour %.0f in, %.0f out", to_neighbour, from_neighbour)
    assert min(to_neighbour, from_neighbour) > 10 * 30  # the neighbour keeps its speed

    # Live: new limits, the same container (no restart).
    source.limits[bench.key(limited)] = Bandwidth(egress_mbit=10, ingress_mbit=50)
    assert enforcer.sync().changed == 1
    assert_near(measure_mbit(peer.endpoint, limited.endpoint), 50, "ingress after change")
    assert_near(measure_mbit(limited.endpoint, peer.endpoint), 10, "egress after change")
    assert bench.inspect(limited.id, "limited") == limited

    # Lifted: full speed again, and nothing left on the host.
    source.limits.clear()
    assert enforcer.sync().changed == 1
    free_in = measure_mbit(peer.endpoint, limited.endpoint)
    free_out = measure_mbit(limited.endpoint, peer.endpoint)
    log.info("bandwidth: lifted %.0f in, %.0f out", free_in, free_out)
    assert min(free_in, free_out) > 10 * 50
    veth = tc.veth_of(limited.endpoint.pid)
    assert tc.read(veth) == Shaping()


def test_without_the_platform_new_instances_get_their_labels_and_shaped_ones_stay(
    bench: Bench, tc: TrafficControl
) -> None:
    first = bench.start("api", Bandwidth(egress_mbit=40, ingress_mbit=40))
    source = FixedLimits(down=True)
    enforcer = enforcer_for(bench, source, tc)

    enforcer.sync()  # the platform never answered: labels
    veth = tc.veth_of(first.endpoint.pid)
    assert tc.read(veth).to_instance == htb_rate(40).rate

    source.down = False
    source.limits[bench.key(first)] = Bandwidth(ingress_mbit=25)
    enforcer.sync()  # the platform's answer rules
    assert (tc.read(veth).to_instance, tc.read(veth).ifb) == (htb_rate(25).rate, False)

    source.down = True
    second = bench.start("api", Bandwidth(egress_mbit=40, ingress_mbit=40))
    enforcer.sync()  # the platform is gone again: the last answer still rules, for both
    assert tc.read(veth).to_instance == htb_rate(25).rate
    assert tc.read(tc.veth_of(second.endpoint.pid)).to_instance == htb_rate(25).rate


def test_fresh_agent_without_platform_keeps_existing_shaping(
    bench: Bench, tc: TrafficControl
) -> None:
    instance = bench.start("api", Bandwidth(ingress_mbit=40))
    enforcer_for(bench, FixedLimits({bench.key(instance): Bandwidth(ingress_mbit=25)}), tc).sync()

    enforcer_for(bench, FixedLimits(down=True), tc).sync()  # a restarted agent, server down

    assert tc.read(tc.veth_of(instance.endpoint.pid)).to_instance == htb_rate(25).rate


def wait_for_egress(tc: TrafficControl, instance: Instance, mbit: int) -> None:
    veth = tc.veth_of(instance.endpoint.pid)
    deadline = time.monotonic() + 5
    while tc.read(veth).from_instance is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tc.read(veth).from_instance == htb_rate(mbit).rate


def test_started_and_restarted_instances_are_shaped_at_once_by_the_running_agent(
    bench: Bench, tc: TrafficControl
) -> None:
    source = FixedLimits({LimitKey(bench.team, "web", ENV): Bandwidth(egress_mbit=15)})
    own_tc = TrafficControl()  # the loop's thread gets its own netlink socket
    enforcer = BandwidthEnforcer(
        engine=bench.engine, limits=source, tc=own_tc, owner=Owner(team=bench.team),
        interval_s=3600,  # only the start event can shape it within the test
    )  # fmt: skip
    stop = threading.Event()
    loop = threading.Thread(target=enforcer.run, args=(stop,))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while not enforcer.watching and time.monotonic() < deadline:
            time.sleep(0.02)
        instance = bench.start("web")
        wait_for_egress(tc, instance, 15)

        bench.engine.restart(instance.id, timeout=0)  # a new veth for the same container
        restarted = bench.inspect(instance.id, "web")
        assert restarted.endpoint.pid != instance.endpoint.pid
        wait_for_egress(tc, restarted, 15)
    finally:
        stop.set()
        loop.join(timeout=10)
        own_tc.close()
    assert not loop.is_alive()


def test_the_ifb_of_a_removed_instance_is_removed_at_the_next_pass(
    bench: Bench, tc: TrafficControl
) -> None:
    instance = bench.start("api", Bandwidth(egress_mbit=40))
    enforcer = enforcer_for(
        bench, FixedLimits({bench.key(instance): Bandwidth(egress_mbit=40)}), tc
    )
    enforcer.sync()
    ifb = ifb_name(tc.veth_of(instance.endpoint.pid))
    assert tc.read(tc.veth_of(instance.endpoint.pid)).ifb

    bench.engine.remove_container(instance.id, force=True)
    report = enforcer.sync()

    assert report.orphans_removed >= 1
    with IPRoute() as ipr:
        assert ipr.link_lookup(ifname=ifb) == []


def test_the_host_veth_of_an_instance_is_a_port_of_its_bridge(
    bench: Bench, tc: TrafficControl
) -> None:
    instance = bench.start("api")
    bridge = "br-" + bench.engine.inspect_network(bench.network)["Id"][:12]

    veth = tc.veth_of(instance.endpoint.pid)

    with IPRoute() as ipr:
        (link,) = ipr.get_links(ifname=veth)
        (bridge_index,) = ipr.link_lookup(ifname=bridge)
    assert link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) == "veth"
    assert link.get("master") == bridge_index


def test_the_veth_of_a_process_that_is_gone_is_not_found(tc: TrafficControl) -> None:
    with pytest.raises(NotFound, match="999999999"):
        tc.veth_of(999_999_999)


def test_a_connected_enforcer_without_its_server_limits_by_labels(
    bench: Bench, tc: TrafficControl
) -> None:
    instance = bench.start("api", Bandwidth(ingress_mbit=40))
    enforcer = BandwidthEnforcer.connect(
        docker_host="unix:///var/run/docker.sock",
        server_url="http://127.0.0.1:9",  # the discard port: no server answers there
        token="dy_unused",
        interval_s=10,
        owner=Owner(team=bench.team),
    )
    try:
        assert enforcer.sync().changed == 1
    finally:
        enforcer.close()

    assert tc.read(tc.veth_of(instance.endpoint.pid)).to_instance == htb_rate(40).rate
