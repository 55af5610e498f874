"""The balancer's layout and its changes: slots kept per endpoint, drains timed, headroom, and
runtime commands rather than reloads wherever HAProxy's runtime API can follow."""

from __future__ import annotations

import pytest

from dockyard.discovery.balancer_changes import plan
from dockyard.discovery.balancer_layout import Layout, Shape, arrange
from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.snapshot import Route, Snapshot
from dockyard.domain.environment import Environment
from dockyard.domain.spec import Port

TEST = Environment.TEST
SHAPE = Shape(domain="dy.example", tcp_ports=range(20000, 20002), min_slots=4, drain_s=10)
MAP = "/b/hosts.map"


def endpoint(ip: str, port: int = 8080, name: str = "") -> Endpoint:
    return Endpoint(
        instance=ip, address=ip, ports=(Port(port, name=name),), revision=1, ready_at=None
    )


def snap(*routes: tuple[str, str, tuple[Endpoint, ...]]) -> Snapshot:
    built = {
        (team, service, TEST): Route(team, service, TEST, endpoints, version="v")
        for team, service, endpoints in routes
    }
    return Snapshot(routes=built, callers={}, version="v")


def web(*ips: str) -> Snapshot:
    return snap(("ops", "web", tuple(endpoint(ip) for ip in ips)))


def states(layout: Layout, name: str = "ops.web.test") -> list[tuple[str, str]]:
    return [(s.address, s.state) for s in layout.backends[name].slots if s.used]


def test_a_new_route_gets_a_backend_named_for_team_service_env_a_host_name_and_headroom() -> None:
    layout = arrange(Layout(), web("10.0.0.1", "10.0.0.2"), shape=SHAPE, now=0)
    backend = layout.backends["ops.web.test"]
    assert (backend.team, backend.service, backend.env, backend.mode) == (
        "ops",
        "web",
        TEST,
        "http",
    )
    assert layout.hosts == {"web.ops.test.dy.example": "ops.web.test"}
    assert states(layout) == [("10.0.0.1", "ready"), ("10.0.0.2", "ready")]
    assert len(backend.slots) == 4
    assert plan(Layout(), layout, map_file=MAP).reload


def test_an_endpoint_keeps_its_slot_and_a_leaving_one_drains_then_goes_to_maint() -> None:
    first = arrange(Layout(), web("10.0.0.1", "10.0.0.2"), shape=SHAPE, now=0)
    second = arrange(first, web("10.0.0.2", "10.0.0.3"), shape=SHAPE, now=1)
    assert states(second) == [("10.0.0.1", "drain"), ("10.0.0.2", "ready"), ("10.0.0.3", "ready")]
    assert plan(first, second, map_file=MAP).commands == (
        "set server ops.web.test/s3 addr 10.0.0.3 port 8080",
        "set server ops.web.test/s3 state ready",
        "set server ops.web.test/s1 state drain",
    )
    still = arrange(second, web("10.0.0.2", "10.0.0.3"), shape=SHAPE, now=10.9)
    assert states(still)[0] == ("10.0.0.1", "drain")
    third = arrange(still, web("10.0.0.2", "10.0.0.3"), shape=SHAPE, now=11)
    assert states(third)[0] == ("10.0.0.1", "maint")
    assert plan(still, third, map_file=MAP).commands == ("set server ops.web.test/s1 state maint",)


def test_a_slot_in_maint_is_reused_with_its_address_moved_before_it_is_made_ready() -> None:
    layout = arrange(Layout(), web("10.0.0.1"), shape=SHAPE, now=0)
    layout = arrange(layout, web(), shape=SHAPE, now=1)
    drained = arrange(layout, web(), shape=SHAPE, now=20)
    moved = arrange(drained, web("10.0.0.9"), shape=SHAPE, now=21)
    assert states(moved) == [("10.0.0.9", "ready")]
    assert plan(drained, moved, map_file=MAP).commands == (
        "set server ops.web.test/s1 addr 10.0.0.9 port 8080",
        "set server ops.web.test/s1 state ready",
    )


def test_a_whole_set_replaced_at_once_is_brought_in_before_the_old_one_is_taken_out() -> None:
    first = arrange(Layout(), web("10.0.0.1"), shape=SHAPE, now=0)
    flipped = arrange(first, web("10.0.0.2"), shape=SHAPE, now=1)
    back = arrange(flipped, web("10.0.0.1"), shape=SHAPE, now=2)
    assert plan(first, flipped, map_file=MAP).commands == (
        "set server ops.web.test/s2 addr 10.0.0.2 port 8080",
        "set server ops.web.test/s2 state ready",
        "set server ops.web.test/s1 state drain",
    )
    assert plan(flipped, back, map_file=MAP).commands == (
        "set server ops.web.test/s1 state ready",
        "set server ops.web.test/s2 state drain",
    )


def test_a_draining_slot_is_never_taken_by_a_new_endpoint() -> None:
    layout = arrange(
        Layout(), web("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), shape=SHAPE, now=0
    )
    rolled = arrange(layout, web("10.0.0.5"), shape=SHAPE, now=1)
    assert [s for s in states(rolled) if s[1] == "drain"] == [
        (f"10.0.0.{i}", "drain") for i in range(1, 5)
    ]
    assert states(rolled)[4] == ("10.0.0.5", "ready")
    assert plan(layout, rolled, map_file=MAP).reload  # slots grew


@pytest.mark.parametrize(
    ("before", "after", "reload"),
    [
        (("10.0.0.1",), ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), False),
        (("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), ("10.0.0.1",), False),
        (("10.0.0.1",), tuple(f"10.0.0.{i}" for i in range(2, 7)), True),
    ],
)
def test_scale_out_within_headroom_and_scale_in_need_no_reload(
    before: tuple[str, ...], after: tuple[str, ...], reload: bool
) -> None:
    first = arrange(Layout(), web(*before), shape=SHAPE, now=0)
    second = arrange(first, web(*after), shape=SHAPE, now=1)
    assert plan(first, second, map_file=MAP).reload is reload
    assert {a for a, s in states(second) if s == "ready"} == set(after)


def test_headroom_doubles_what_is_needed_when_slots_run_out() -> None:
    first = arrange(Layout(), web(*(f"10.0.0.{i}" for i in range(1, 6))), shape=SHAPE, now=0)
    assert len(first.backends["ops.web.test"].slots) == 10


def test_a_route_that_leaves_drops_its_host_name_and_drains_then_its_backend_goes() -> None:
    first = arrange(Layout(), web("10.0.0.1"), shape=SHAPE, now=0)
    gone = arrange(first, snap(), shape=SHAPE, now=1)
    assert gone.hosts == {}
    assert not gone.backends["ops.web.test"].routed
    assert plan(first, gone, map_file=MAP).commands == (
        f"del map {MAP} web.ops.test.dy.example",
        "set server ops.web.test/s1 state drain",
    )
    assert arrange(gone, snap(), shape=SHAPE, now=20).backends == {}


def test_a_route_without_endpoints_keeps_its_backend_and_one_never_seen_waits() -> None:
    first = arrange(Layout(), web("10.0.0.1"), shape=SHAPE, now=0)
    empty = arrange(first, web(), shape=SHAPE, now=1)
    assert "web.ops.test.dy.example" in empty.hosts
    assert arrange(Layout(), web(), shape=SHAPE, now=0).backends == {}


def test_a_tcp_route_gets_a_port_of_its_own_kept_across_changes_until_the_range_runs_out() -> None:
    def tcp(service: str, ip: str) -> tuple[str, str, tuple[Endpoint, ...]]:
        return ("ops", service, (endpoint(ip, 6379, "redis"),))

    first = arrange(Layout(), snap(tcp("a", "10.0.0.1"), tcp("b", "10.0.0.2")), shape=SHAPE, now=0)
    assert {n: b.tcp_port for n, b in first.backends.items()} == {
        "ops.a.test": 20000, "ops.b.test": 20001,
    }  # fmt: skip
    assert first.hosts == {}
    second = arrange(
        first, snap(tcp("a", "10.0.0.3"), tcp("b", "10.0.0.2"), tcp("c", "10.0.0.4")),
        shape=SHAPE, now=1,
    )  # fmt: skip
    assert second.backends["ops.a.test"].tcp_port == 20000
    assert "ops.c.test" not in second.backends
    assert second.unrouted == (f"ops.c.test: no TCP port left in {SHAPE.tcp_ports}",)
    assert not plan(first, second, map_file=MAP).reload


def test_a_rollout_to_a_new_port_points_each_slot_at_its_own_revisions_port() -> None:
    first = arrange(Layout(), web("10.0.0.1"), shape=SHAPE, now=0)
    new = snap(("ops", "web", (endpoint("10.0.0.1"), endpoint("10.0.0.2", 9090))))
    second = arrange(first, new, shape=SHAPE, now=1)
    assert [s.port for s in second.backends["ops.web.test"].slots if s.used] == [8080, 9090]
