"""The balancer's settings as read from the environment, and the labels Prometheus gives its
series."""

from __future__ import annotations

import re

import pytest

from dockyard.domain.errors import Invalid
from dockyard.metrics.prometheus_config import ROUTE_NAME, route_labels
from dockyard.settings import BalancerSettings, Settings


def _balancer(**environ: str) -> BalancerSettings:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).balancer


def test_defaults_route_dockyard_internal_on_8480_with_tcp_ports_from_20000() -> None:
    found = _balancer()
    assert (found.domain, found.http_addr, found.metrics_addr) == (
        "dockyard.internal", "0.0.0.0:8480", "127.0.0.1:9468",
    )  # fmt: skip
    assert found.tcp_ports == range(20000, 20500)


def test_domain_ports_and_drain_from_the_environment() -> None:
    found = _balancer(
        DOCKYARD_BALANCER_DOMAIN="Apps.Example.", DOCKYARD_BALANCER_TCP_PORTS="30000-30009",
        DOCKYARD_BALANCER_DRAIN_S="5", DOCKYARD_BALANCER_HTTP_ADDR="127.0.0.1:80",
    )  # fmt: skip
    assert found.domain == "apps.example"
    assert found.tcp_ports == range(30000, 30010)
    assert (found.drain_s, found.http_addr) == (5.0, "127.0.0.1:80")


def test_host_names_end_in_the_dns_zone_unless_the_balancer_has_a_domain_of_its_own() -> None:
    assert _balancer(DOCKYARD_DNS_ZONE="corp.example").domain == "corp.example"
    both = _balancer(DOCKYARD_DNS_ZONE="corp.example", DOCKYARD_BALANCER_DOMAIN="lb.example")
    assert both.domain == "lb.example"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DOCKYARD_BALANCER_DOMAIN", "bad_domain.example"),
        ("DOCKYARD_BALANCER_DOMAIN", "-x.example"),
        ("DOCKYARD_BALANCER_TCP_PORTS", "30010-30000"),
        ("DOCKYARD_BALANCER_TCP_PORTS", "30000"),
        ("DOCKYARD_BALANCER_TCP_PORTS", "0-10"),
        ("DOCKYARD_BALANCER_HTTP_ADDR", "8480"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, raw: str) -> None:
    with pytest.raises(Invalid, match=name):
        _balancer(**{name: raw})


@pytest.mark.parametrize(
    ("proxy", "labels"),
    [
        ("ops.web.test", ("ops", "web", "test")),
        ("tcp:data-team.redis-1.online", ("data-team", "redis-1", "online")),
        ("http", None),
        ("metrics", None),
        ("ops.web.staging", None),
    ],
)
def test_a_route_series_gets_its_team_service_and_env(
    proxy: str, labels: tuple[str, str, str] | None
) -> None:
    rules = route_labels()
    found = re.fullmatch(ROUTE_NAME, proxy)  # Prometheus anchors the regex the same way
    assert (found.groups() if found else None) == labels
    assert [r["target_label"] for r in rules] == ["team", "service", "env"]
