"""The all-services snapshot: routes for every environment, callers by address, its version,
and its JSON form read back as it was."""

from __future__ import annotations

from datetime import UTC, datetime

from dockyard.discovery.snapshot import snapshot_from_json, snapshot_json, snapshot_of
from dockyard.domain.environment import Environment
from dockyard.domain.spec import Port
from dockyard.domain.status import EnvKey, Health, InstanceRecord
from dockyard.store.endpoints import Published

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEB = Published(1, "alpha", "web", "private")
TEST_KEY = EnvKey(1, Environment.TEST)


def rec(iid: str, ip: str | None, health: Health = Health.READY) -> InstanceRecord:
    return InstanceRecord(
        id=iid, revision=2, template_hash="", runtime_id="", state="running", health=health,
        ip=ip, ready_at=T0 if health is Health.READY else None,
    )  # fmt: skip


FOUND = {TEST_KEY: [rec("a", "10.0.0.2"), rec("b", "10.0.0.3", Health.STARTING), rec("c", None)]}
PORTS = {(TEST_KEY, 2): (Port(8080, name="http"),)}


def test_every_environment_has_a_route_and_every_address_a_caller() -> None:
    snapshot = snapshot_of([WEB], FOUND, PORTS)
    assert set(snapshot.routes) == {("alpha", "web", env) for env in Environment}
    test = snapshot.routes[("alpha", "web", Environment.TEST)]
    assert [(e.address, e.ports) for e in test.endpoints] == [("10.0.0.2", PORTS[(TEST_KEY, 2)])]
    assert snapshot.callers == {
        "10.0.0.2": ("alpha", "web", Environment.TEST),
        "10.0.0.3": ("alpha", "web", Environment.TEST),
    }


def test_the_json_form_reads_back_as_the_same_snapshot() -> None:
    snapshot = snapshot_of([WEB, Published(2, "beta", "db", ("alpha",))], FOUND, PORTS)
    assert snapshot_from_json(snapshot_json(snapshot)) == snapshot


def test_the_version_moves_with_the_endpoints_the_callers_and_the_publish_setting() -> None:
    base = snapshot_of([WEB], FOUND, PORTS).version
    published = snapshot_of([Published(1, "alpha", "web", "all")], FOUND, PORTS).version
    fewer_callers = snapshot_of([WEB], {TEST_KEY: FOUND[TEST_KEY][:1]}, PORTS).version
    no_endpoint = snapshot_of([WEB], {TEST_KEY: FOUND[TEST_KEY][1:]}, PORTS).version
    assert len({base, published, fewer_callers, no_endpoint}) == 4
    assert snapshot_of([WEB], FOUND, PORTS).version == base
