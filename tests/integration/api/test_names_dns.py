"""Service names served by real DNS servers: dnsmasq (the containers' resolver) in front of
PowerDNS, whose remote backend `dockyard names` answers from the endpoint feed of a real server.

Callers are told apart by their source address: the test asks from several 127/8 addresses,
each the address of an instance of some service environment, as a container's would be.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.discovery.dns_config import DnsLayout
from dockyard.discovery.feed import Backoff, Feed
from dockyard.discovery.name_server import NameServer
from dockyard.discovery.names import Zone
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import services
from dockyard.store.db import Database
from dockyard.store.status import key_for, write_pass
from tests.support.dns_servers import (
    DnsServers,
    dns_servers,
    free_port,
    name_server,
    require_dns_programs,
)
from tests.support.dns_wire import NOERROR, NXDOMAIN, Reply, ask, fake_upstream
from tests.support.serving import serve

from .api_support import API, START, MovableClock, TestClient, make_team
from .test_api_endpoints import deploy, inst

ZONE = "dockyard.internal"
ADMIN = Principal(token_id="setup", name="admin", team=None)
TEST_CALLER, ONLINE_CALLER, BETA_CALLER, STRANGER = (
    "127.0.0.5",
    "127.0.0.6",
    "127.0.0.7",
    "127.0.0.9",
)
pytestmark = pytest.mark.timeout(90)


def write(db: Database, team: str, service: str, env: str, *records: InstanceRecord) -> None:
    """What a controller pass writes for TEAM/SERVICE in `env`."""
    with db.session() as session:
        key = key_for(session, team=team, service=service, env=Environment(env))
        assert key is not None
        status = EnvStatus(EnvPhase.AVAILABLE, "", 1, len(records), len(records), len(records))
        write_pass(session, key, records=list(records), status=status, events=[], now=START)


def create(db: Database, clock: MovableClock, team: str, name: str, *ports: Port) -> None:
    spec = ServiceSpec(image=f"{team}/{name}:1", ports=ports or (Port(8080),))
    with db.session() as session:
        services.create_service(session, ADMIN, team=team, name=name, spec=spec, now=clock())


@dataclass
class Names:
    """What a test has running: the server's URL, the DNS servers and the name server."""

    url: str
    dns: DnsServers
    names: NameServer
    feed: Feed
    layout: DnsLayout
    server: contextlib.ExitStack = field(repr=False)
    """Closing it stops the API server."""
    names_stack: contextlib.ExitStack = field(repr=False)
    """Closing it stops the name server."""

    def ask(self, name: str, qtype: str = "A", *, source: str = TEST_CALLER) -> Reply:
        return ask(self.dns.resolver, name, qtype, source=source)


@pytest.fixture
def world(client: TestClient, admin: dict[str, str], alpha: dict[str, str], db: Database,
          clock: MovableClock) -> None:  # fmt: skip
    """alpha/api (named ports http and admin) with instances in test, stable and online; the
    callers: alpha/client in test and online, beta/other in test."""
    require_dns_programs()
    create(db, clock, "alpha", "api", Port(8080, name="http"), Port(9000, name="admin"))
    for env in ("test", "stable", "online"):
        deploy(client, f"{API}/teams/alpha/services/api", alpha, env)
    write(db, "alpha", "api", "test", inst("a1", "10.1.0.2"))
    write(db, "alpha", "api", "stable", inst("s1", "10.2.0.2"))
    write(db, "alpha", "api", "online", inst("o1", "10.9.0.2"))
    create(db, clock, "alpha", "client")
    write(db, "alpha", "client", "test", inst("c1", TEST_CALLER))
    write(db, "alpha", "client", "online", inst("c2", ONLINE_CALLER))
    make_team(client, admin, "beta")
    create(db, clock, "beta", "other")
    write(db, "beta", "other", "test", inst("b1", BETA_CALLER, Health.STARTING))


@pytest.fixture
def running(deps: ApiDeps, admin: dict[str, str], world: None, tmp_path: Path) -> Iterator[Names]:
    layout = DnsLayout(tmp_path / "dns")
    token = admin["Authorization"].removeprefix("Bearer ")
    port = free_port()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(contextlib.ExitStack())
        url = server.enter_context(serve(build_api(deps), port=port, graceful_s=0))
        feed = Feed(url, token, backoff=Backoff(first_s=0.05, most_s=0.5))
        names_stack = stack.enter_context(contextlib.ExitStack())
        names = names_stack.enter_context(name_server(feed, layout, Zone(ZONE)))
        upstream = stack.enter_context(fake_upstream("127.0.0.1", "192.0.2.1"))
        dns = stack.enter_context(
            dns_servers(layout, zone=ZONE, upstreams=[f"{upstream[0]}#{upstream[1]}"])
        )
        yield Names(url, dns, names, feed, layout, server=server, names_stack=names_stack)


def addresses(reply: Reply) -> list[object]:
    assert reply.rcode == NOERROR, reply
    return reply.values("A")


def found(reply: Reply) -> list[object] | None:
    """The A records of `reply`, or None if it is an error (NXDOMAIN): for waits."""
    return reply.values("A") if reply.rcode == NOERROR else None


def wait_for(condition: Callable[[], bool], *, within_s: float) -> float:
    """Seconds until `condition` held; fails after `within_s`."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within_s, "the answer did not change in time"
        time.sleep(0.01)
    return time.monotonic() - began


def test_a_name_answers_the_ready_instances_of_the_callers_environment(running: Names) -> None:
    wait_for(lambda: running.names.snapshot is not None, within_s=10)
    assert addresses(running.ask(f"api.alpha.{ZONE}")) == ["10.1.0.2"]
    assert addresses(running.ask(f"API.Alpha.{ZONE}", source=ONLINE_CALLER)) == ["10.9.0.2"]
    assert addresses(running.ask(f"api.alpha.stable.{ZONE}")) == ["10.2.0.2"]
    srv = running.ask(f"_http._tcp.api.alpha.{ZONE}", "SRV")
    assert srv.values("SRV") == [(0, 1, 8080, f"a1.api.alpha.test.{ZONE}")]
    assert addresses(running.ask(f"a1.api.alpha.test.{ZONE}")) == ["10.1.0.2"]
    assert running.ask(ZONE, "SOA").rcode == NOERROR and running.ask(ZONE, "SOA").answers


@pytest.mark.parametrize(
    ("name", "source"),
    [
        (f"nope.alpha.{ZONE}", TEST_CALLER),  # no such service
        (f"api.nobody.{ZONE}", TEST_CALLER),  # no such team
        (f"api.alpha.online.{ZONE}", TEST_CALLER),  # offline never reaches online
        (f"api.alpha.test.{ZONE}", ONLINE_CALLER),  # nor online offline
        (f"_grpc._tcp.api.alpha.{ZONE}", TEST_CALLER),  # no such named port
        (f"api.alpha.{ZONE}", BETA_CALLER),  # not published to beta
        (f"api.alpha.{ZONE}", STRANGER),  # no instance: no environment
    ],
)
def test_what_does_not_exist_for_the_caller_is_nxdomain(
    running: Names, name: str, source: str
) -> None:
    wait_for(lambda: running.names.snapshot is not None, within_s=10)
    assert running.ask(name, source=source).rcode == NXDOMAIN


def test_a_published_service_resolves_for_the_teams_it_names(
    running: Names, client: TestClient, alpha: dict[str, str]
) -> None:
    wait_for(lambda: running.names.snapshot is not None, within_s=10)
    assert running.ask(f"api.alpha.{ZONE}", source=BETA_CALLER).rcode == NXDOMAIN
    changed = client.patch(
        f"{API}/teams/alpha/services/api", json={"publish": ["beta"]}, headers=alpha
    )
    assert changed.status_code == 200, changed.text
    wait_for(
        lambda: running.ask(f"api.alpha.{ZONE}", source=BETA_CALLER).rcode == NOERROR, within_s=5
    )
    assert addresses(running.ask(f"api.alpha.{ZONE}", source=BETA_CALLER)) == ["10.1.0.2"]


def test_an_answer_follows_an_endpoint_change_within_a_second_and_test_falls_back_to_stable(
    running: Names, db: Database
) -> None:
    name = f"api.alpha.{ZONE}"
    wait_for(lambda: found(running.ask(name)) == ["10.1.0.2"], within_s=10)
    write(db, "alpha", "api", "test", inst("a1", "10.1.0.2", Health.DRAINING, drain_until=START))
    assert wait_for(lambda: found(running.ask(name)) == ["10.2.0.2"], within_s=1.0) < 1.0
    # Explicitly asked, test has nothing: no fallback.
    assert running.ask(f"api.alpha.test.{ZONE}").rcode == NXDOMAIN
    write(db, "alpha", "api", "test", inst("a2", "10.1.0.3"), inst("a3", "10.1.0.4"))
    wait_for(lambda: found(running.ask(name)) == ["10.1.0.3", "10.1.0.4"], within_s=1.0)
    # Online never falls back, whatever test and stable hold.
    write(db, "alpha", "api", "online")
    wait_for(lambda: running.ask(name, source=ONLINE_CALLER).rcode == NXDOMAIN, within_s=1.0)


def test_other_names_are_forwarded_to_the_hosts_resolvers(running: Names) -> None:
    assert addresses(running.ask("www.example.org")) == ["192.0.2.1"]


def test_names_keep_answering_while_the_server_is_away_even_after_a_restart(
    running: Names, admin: dict[str, str]
) -> None:
    name = f"api.alpha.{ZONE}"
    wait_for(lambda: found(running.ask(name)) == ["10.1.0.2"], within_s=10)
    running.server.close()
    wait_for(lambda: not running.feed.connected, within_s=5)
    assert addresses(running.ask(name)) == ["10.1.0.2"]
    # `dockyard names` restarted while the server is still away answers from its stored copy.
    running.names_stack.close()
    token = admin["Authorization"].removeprefix("Bearer ")
    with name_server(Feed(running.url, token), running.layout, Zone(ZONE)) as again:
        assert again.snapshot is not None  # loaded before the socket listened
        wait_for(lambda: running.ask(name).rcode == NOERROR, within_s=5)
        assert addresses(running.ask(name)) == ["10.1.0.2"]
