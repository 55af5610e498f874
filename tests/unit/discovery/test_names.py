"""Which records a caller gets for a name: the pure DNS decision, by table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.discovery.endpoints import Endpoint
from dockyard.discovery.names import Zone, answer, parse
from dockyard.discovery.pdns_backend import RemoteBackend, caller_address
from dockyard.discovery.snapshot import Route, Snapshot
from dockyard.domain.environment import Environment
from dockyard.domain.publish import Publish
from dockyard.domain.spec import Port

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TEST, STABLE, SANDBOX, ONLINE = (
    Environment.TEST,
    Environment.STABLE,
    Environment.SANDBOX,
    Environment.ONLINE,
)
ZONE = Zone("dockyard.internal")
PORTS = (Port(8080, name="http"), Port(5353, protocol="udp", name="dns"), Port(9000))


def route(env: Environment, *addresses: str, publish: Publish = "private") -> Route:
    endpoints = tuple(
        Endpoint(f"{env.value[0]}{n}", address, PORTS, 1, T0) for n, address in enumerate(addresses)
    )
    return Route("alpha", "api", env, endpoints, f"{env.value}-v", publish)


def world(*routes: Route) -> Snapshot:
    callers = {
        "10.0.1.1": ("alpha", "client", TEST),
        "10.0.1.2": ("alpha", "client", STABLE),
        "10.0.1.3": ("alpha", "client", SANDBOX),
        "10.0.1.4": ("alpha", "client", ONLINE),
        "10.0.1.5": ("beta", "other", TEST),
    }
    return Snapshot({r.key: r for r in routes}, callers, "v")


FULL = world(
    route(TEST, "10.1.0.2", "10.1.0.3"),
    route(STABLE, "10.2.0.2"),
    route(SANDBOX),
    route(ONLINE, "10.9.0.2"),
)
NO_TEST = world(route(TEST), route(STABLE, "10.2.0.2"), route(SANDBOX), route(ONLINE))
PUBLISHED = world(*(route(env, "10.5.0.1", publish=("beta",)) for env in Environment))


@pytest.mark.parametrize(
    ("snapshot", "name", "caller", "expected"),
    [
        (FULL, "api.alpha", "10.0.1.1", ["10.1.0.2", "10.1.0.3"]),  # the caller's environment
        (FULL, "API.Alpha.", "10.0.1.1", ["10.1.0.2", "10.1.0.3"]),  # case, final dot
        (FULL, "api.alpha", "10.0.1.2", ["10.2.0.2"]),  # stable asks stable
        (FULL, "api.alpha", "10.0.1.4", ["10.9.0.2"]),
        (FULL, "api.alpha", "10.0.1.3", []),  # sandbox has none and never falls back
        (NO_TEST, "api.alpha", "10.0.1.1", ["10.2.0.2"]),  # test falls back to stable
        (NO_TEST, "api.alpha.test", "10.0.1.1", []),  # but not when asked explicitly
        (FULL, "api.alpha.stable", "10.0.1.1", ["10.2.0.2"]),  # explicit, same network
        (FULL, "api.alpha.online", "10.0.1.1", []),  # offline never reaches online
        (FULL, "api.alpha.test", "10.0.1.4", []),  # nor online offline
        (FULL, "api.alpha", "10.0.1.5", []),  # beta: not published to it
        (PUBLISHED, "api.alpha", "10.0.1.5", ["10.5.0.1"]),  # published to beta
        (FULL, "api.alpha", "10.7.7.7", []),  # not an instance: no environment
        (FULL, "api.alpha", None, []),
        (FULL, "nope.alpha", "10.0.1.1", []),
        (FULL, "t0.api.alpha.test", "10.0.1.1", ["10.1.0.2"]),  # one instance
        (FULL, "t9.api.alpha.test", "10.0.1.1", []),
        (FULL, "x.api.alpha", "10.0.1.1", []),  # 3 labels must end in an environment
        (FULL, "a.b.c.d.e", "10.0.1.1", []),
        (FULL, "api.alpha.other.zone", "10.0.1.1", []),
    ],
)
def test_a_records_for_a_caller(
    snapshot: Snapshot, name: str, caller: str | None, expected: list[str]
) -> None:
    qname = name if "zone" in name else f"{name.rstrip('.')}.dockyard.internal."
    found = answer(ZONE, snapshot, qname=qname, qtype="A", caller=caller)
    assert sorted(r.content for r in found) == expected
    assert all(r.ttl_s <= 5 for r in found)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("_http._tcp.api.alpha", ["0 1 8080 t0.api.alpha.test.dockyard.internal",
                                  "0 1 8080 t1.api.alpha.test.dockyard.internal"]),
        ("_dns._udp.api.alpha.stable", ["0 1 5353 s0.api.alpha.stable.dockyard.internal"]),
        ("_dns._tcp.api.alpha", []),  # the port is udp
        ("_nope._tcp.api.alpha", []),
        ("_http._tcp.t0.api.alpha.test", []),  # an instance has no SRV
    ],
)  # fmt: skip
def test_srv_records_of_named_ports(name: str, expected: list[str]) -> None:
    found = answer(ZONE, FULL, qname=f"{name}.dockyard.internal", qtype="SRV", caller="10.0.1.1")
    assert sorted(r.content for r in found) == expected


def test_the_zone_has_soa_and_ns_for_anyone_and_any_gives_every_type() -> None:
    found = answer(ZONE, world(), qname="dockyard.internal.", qtype="ANY", caller=None)
    assert [r.qtype for r in found] == ["SOA", "NS"]
    assert found[0].content.endswith(" 5")  # negative answers live no longer than records
    srv_name = "_http._tcp.api.alpha.dockyard.internal"
    assert {
        r.qtype for r in answer(ZONE, FULL, qname=srv_name, qtype="ANY", caller="10.0.1.1")
    } == {"SRV"}


def test_parse_tells_service_environment_instance_and_port_names_apart() -> None:
    assert parse(ZONE, "web.alpha.dockyard.internal") is not None
    assert parse(ZONE, "alpha.dockyard.internal") is None
    named = parse(ZONE, "_http._tcp.web.alpha.online.dockyard.internal")
    assert named is not None and (named.env, named.port) == (ONLINE, ("http", "tcp"))


def test_the_backend_answers_pdns_requests_from_the_snapshot() -> None:
    backend = RemoteBackend(ZONE, lambda: FULL)
    assert backend.handle({"method": "initialize", "parameters": {}}) == {"result": True}
    asked = {"qtype": "ANY", "qname": "api.alpha.dockyard.internal.", "remote": "127.0.0.1",
             "real-remote": "10.0.1.4/32", "zone-id": -1}  # fmt: skip
    assert backend.handle({"method": "lookup", "parameters": asked}) == {
        "result": [{"qtype": "A", "qname": "api.alpha.dockyard.internal.",
                    "content": "10.9.0.2", "ttl": 5, "auth": True}]
    }  # fmt: skip
    asked["qname"] = "nope.alpha.dockyard.internal."
    assert backend.handle({"method": "lookup", "parameters": asked}) == {"result": False}
    assert backend.handle({"method": "getAllDomains", "parameters": {}}) == {"result": False}
    assert RemoteBackend(ZONE, lambda: None).handle({"method": "lookup", "parameters": asked}) == {
        "result": False
    }


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"remote": "127.0.0.1", "real-remote": "10.0.1.1/32"}, "10.0.1.1"),
        ({"remote": "127.0.0.1", "real-remote": "fd00::5/128"}, "fd00::5"),
        ({"remote": "127.0.0.1"}, "127.0.0.1"),
        ({}, None),
    ],
)
def test_the_caller_is_the_client_subnet_address(
    parameters: dict[str, str], expected: str | None
) -> None:
    assert caller_address(parameters) == expected
