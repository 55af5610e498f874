"""Which readiness check a service's instances pass: the given one, a TCP connect, or none."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.readiness import DEFAULT_START_S, readiness
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec

HTTP = HealthCheck(http_path="/health", interval_s=1)
COMMAND = HealthCheck(command=("true",))
TCP_9000 = "TCP connect to port 9000 (no health check given)"
RUNNING = "ready when running (no health check given and no TCP port to connect to)"


@pytest.mark.parametrize(
    ("ports", "check", "kind", "port", "given", "text"),
    [
        ((8080,), None, "tcp", 8080, False, "TCP connect to port 8080 (no health check given)"),
        ((9000, 8080), None, "tcp", 9000, False, TCP_9000),
        ((), None, "running", None, False, RUNNING),
        ((8080,), HTTP, "http", 8080, True, "HTTP GET /health on port 8080 (health check given)"),
        ((8080,), COMMAND, "command", None, True, "command true (health check given)"),
        ((), COMMAND, "command", None, True, "command true (health check given)"),
    ],
)  # fmt: skip
def test_the_given_check_wins_else_tcp_on_the_first_port_else_running(
    ports: tuple[int, ...],
    check: HealthCheck | None,
    kind: str,
    port: int | None,
    given: bool,
    text: str,
) -> None:
    spec = ServiceSpec(
        image="web:1", ports=tuple(Port(container_port=p) for p in ports), health_check=check
    )
    found = readiness(spec)
    assert (found.kind, found.port, found.given, found.text()) == (kind, port, given, text)


def test_udp_ports_are_skipped_and_only_udp_means_ready_when_running() -> None:
    udp, tcp = Port(container_port=53, protocol="udp"), Port(container_port=8053)
    assert readiness(ServiceSpec(image="dns:1", ports=(udp, tcp))).port == 8053
    assert readiness(ServiceSpec(image="dns:1", ports=(udp,))).kind == "running"


def test_the_default_tcp_check_keeps_the_default_timings_with_a_start_period() -> None:
    check = readiness(ServiceSpec(image="web:1", ports=(Port(container_port=80),))).check
    assert check is not None and check.tcp
    default = HealthCheck(http_path="/")
    timings = ("interval_s", "timeout_s", "retries")
    assert [getattr(check, t) for t in timings] == [getattr(default, t) for t in timings]
    # A service slow to listen stays not ready (no traffic) that long before it is restarted.
    assert check.start_period_s == DEFAULT_START_S


def test_a_tcp_check_needs_a_port_and_no_other_kind() -> None:
    with pytest.raises(Invalid):
        HealthCheck(tcp=True)
    with pytest.raises(Invalid):
        HealthCheck(tcp=True, port=80, http_path="/")


def test_stored_specs_and_their_template_hashes_do_not_change() -> None:
    spec = ServiceSpec(image="web:1", ports=(Port(container_port=80),), health_check=HTTP)
    stored = spec.to_json()
    assert "tcp" not in stored["health_check"]
    assert ServiceSpec.from_json(stored) == spec
