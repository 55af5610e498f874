"""Services through the API: create, read with environments, page, patch, delete."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import status
from dockyard.store.db import Database

from .api_support import API, START, MovableClock, TestClient

FULL_SPEC = {
    "image": "registry.local:5000/alpha/api@sha256:" + "a" * 64,
    "command": ["/bin/server"],
    "args": ["--port", "8080"],
    "ports": [{"container_port": 8080, "protocol": "tcp", "name": "http"}],
    "env": {"LOG_LEVEL": "info"},
    "resources": {"cpus": 1.5, "memory_mb": 512, "pids": 256},
    "health_check": {
        "http_path": "/healthz",
        "command": [],
        "port": 8080,
        "interval_s": 2.0,
        "timeout_s": 1.0,
        "retries": 5,
        "start_period_s": 10.0,
    },
    "stop_grace_s": 30.0,
    "drain_s": 2.5,
    "capabilities": ["NET_BIND_SERVICE"],
    "strategy": {"max_surge": 2, "max_unavailable": 1},
    "bandwidth": {"egress_mbit": 100, "ingress_mbit": 200},
    "log_paths": ["/app/logs/*.log"],
    "log_multiline": {"start": "^\\d{4}-", "max_bytes": 65536, "max_wait_s": 1.0},
    "publish": ["beta", "gamma"],
    "log_rate": {"lines_per_s": 500, "burst": 2000},
}


def test_created_service_reads_back_with_every_field(client: TestClient, alpha):
    created = client.post(
        f"{API}/teams/alpha/services", json={"name": "api", **FULL_SPEC}, headers=alpha
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "team": "alpha",
        "name": "api",
        "spec": FULL_SPEC,
        "effective_health": {
            "kind": "http",
            "port": 8080,
            "given": True,
            "text": "HTTP GET /healthz on port 8080 (health check given)",
        },
        "created_at": "2025-03-01T12:00:00Z",
        "updated_at": "2025-03-01T12:00:00Z",
        "deleting": False,
    }
    detail = client.get(f"{API}/teams/alpha/services/api", headers=alpha).json()
    assert detail["spec"] == FULL_SPEC
    assert [e["env"] for e in detail["environments"]] == ["test", "sandbox", "online", "stable"]
    assert all(e["current"] is None for e in detail["environments"])
    assert {e["status"]["phase"] for e in detail["environments"]} == {"idle"}


def test_create_fills_defaults_from_the_domain(client: TestClient, alpha):
    created = client.post(
        f"{API}/teams/alpha/services", json={"name": "min", "image": "alpha/min"}, headers=alpha
    ).json()
    # Limits not given follow the environment's default (null in the template).
    assert created["spec"]["resources"] == {"cpus": None, "memory_mb": None, "pids": None}
    assert created["spec"]["strategy"] == {"max_surge": 1, "max_unavailable": 0}
    assert created["spec"]["health_check"] is None


def test_a_service_without_check_is_said_to_be_ready_on_a_tcp_connect(client: TestClient, alpha):
    body = {"name": "tcp", "image": "alpha/tcp:1", "ports": [{"container_port": 9000}]}
    created = client.post(f"{API}/teams/alpha/services", json=body, headers=alpha).json()
    assert created["effective_health"] == {
        "kind": "tcp",
        "port": 9000,
        "given": False,
        "text": "TCP connect to port 9000 (no health check given)",
    }
    base = f"{API}/teams/alpha/services/tcp"
    release = client.post(f"{base}/envs/test/deploy", json={}, headers=alpha).json()
    assert release["effective_health"]["kind"] == "tcp"
    client.patch(base, json={"ports": []}, headers=alpha).raise_for_status()
    shown = client.get(base, headers=alpha).json()["effective_health"]
    assert (shown["kind"], shown["port"]) == ("running", None)


def test_listing_pages_by_name(client: TestClient, alpha):
    for name in ("e", "b", "d", "a", "c"):
        body = {"name": name, "image": "alpha/x:1"}
        assert (
            client.post(f"{API}/teams/alpha/services", json=body, headers=alpha).status_code == 201
        )
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = client.get(f"{API}/teams/alpha/services", params=params, headers=alpha).json()
        seen += [s["name"] for s in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]
    assert pages == 3
    whole = client.get(f"{API}/teams/alpha/services", headers=alpha).json()
    assert len(whole["items"]) == 5 and whole["next"] is None


def test_patch_merges_fields_over_the_template(client: TestClient, alpha, clock: MovableClock):
    client.post(f"{API}/teams/alpha/services", json={"name": "api", **FULL_SPEC}, headers=alpha)
    clock.advance(minutes=5)
    patched = client.patch(
        f"{API}/teams/alpha/services/api",
        json={"env": {"NEW": "1"}, "resources": {"memory_mb": 1024}, "health_check": None},
        headers=alpha,
    )
    assert patched.status_code == 200, patched.text
    spec = patched.json()["spec"]
    assert spec["env"] == {"NEW": "1"}
    # A nested object is replaced whole: unnamed limits follow the environment's default.
    assert spec["resources"] == {"cpus": None, "memory_mb": 1024, "pids": None}
    assert spec["health_check"] is None
    assert {k: spec[k] for k in ("image", "ports", "strategy", "command")} == {
        k: FULL_SPEC[k] for k in ("image", "ports", "strategy", "command")
    }
    assert patched.json()["updated_at"] == "2025-03-01T12:05:00Z"
    assert client.get(f"{API}/teams/alpha/services/api", headers=alpha).json()["spec"] == spec


def test_patch_changes_only_the_template_not_what_is_deployed(client: TestClient, alpha, web):
    client.post(f"{web}/envs/test/deploy", json={}, headers=alpha)
    client.patch(web, json={"image": "alpha/web:2"}, headers=alpha)
    current = client.get(f"{web}/envs/test", headers=alpha).json()["current"]
    assert current["image"] == "alpha/web:1"


def test_delete_marks_deleting_and_tells_the_controller_for_every_env(
    client: TestClient, alpha, web, notified: list[EnvKey]
):
    answer = client.delete(web, headers=alpha)
    assert answer.status_code == 202
    assert answer.json()["deleting"] is True
    assert sorted(key.env.value for key in notified) == ["online", "sandbox", "stable", "test"]
    assert len({key.service_id for key in notified}) == 1
    assert client.get(web, headers=alpha).status_code == 404
    assert client.get(f"{API}/teams/alpha/services", headers=alpha).json()["items"] == []


def test_detail_shows_what_the_controller_wrote(client: TestClient, alpha, web, db: Database):
    client.post(f"{web}/envs/test/deploy", json={"replicas": 1}, headers=alpha)
    key = _write_one_ready_instance(db)
    detail = client.get(web, headers=alpha).json()
    test_env = detail["environments"][0]
    assert test_env["current"]["number"] == 1
    assert test_env["status"] == {
        "phase": "available",
        "message": "1/1 ready",
        "revision": 1,
        "desired": 1,
        "ready": 1,
        "updated": 1,
        "updated_at": "2025-03-01T12:00:00Z",
    }
    assert test_env["instances"] == [
        {
            "id": "i1",
            "env": "test",
            "revision": 1,
            "state": "running",
            "health": "ready",
            "restarts": 0,
            "exit_code": None,
            "last_log": "listening",
            "ip": "10.1.0.5",
            "started_at": "2025-03-01T12:00:00Z",
            "ready_at": "2025-03-01T12:00:02Z",
            "updated_at": "2025-03-01T12:00:00Z",
        }
    ]
    instances = client.get(f"{web}/envs/test/instances", headers=alpha).json()["items"]
    assert instances == test_env["instances"]
    events = client.get(f"{web}/events", params={"env": "test"}, headers=alpha).json()["items"]
    assert [(e["env"], e["kind"], e["message"]) for e in events] == [
        ("test", "started", "instance i1 started")
    ]
    assert client.get(f"{web}/events", params={"env": "online"}, headers=alpha).json() == {
        "items": []
    }
    assert key.env is Environment.TEST


def test_detail_costs_the_same_queries_however_much_history(
    client: TestClient, alpha, web, db: Database
):
    client.post(f"{web}/envs/test/deploy", json={}, headers=alpha)
    few = _count_queries(db, lambda: client.get(web, headers=alpha))
    for replicas in range(2, 12):
        client.post(f"{web}/envs/test/scale", json={"replicas": replicas}, headers=alpha)
        client.post(f"{web}/envs/online/deploy", json={"replicas": replicas}, headers=alpha)
    _write_one_ready_instance(db)
    many = _count_queries(db, lambda: client.get(web, headers=alpha))
    assert many == few


def _count_queries(db: Database, call) -> int:
    count = 0

    def on_execute(*_args) -> None:
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        assert call().status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    return count


def _write_one_ready_instance(db: Database) -> EnvKey:
    with db.session() as session:
        key = status.key_for(session, team="alpha", service="web", env=Environment.TEST)
        assert key is not None
        release = status.desired(session, key)
        assert release is not None and release.release is not None
        record = InstanceRecord(
            id="i1",
            revision=release.release.number,
            template_hash=release.release.template_hash,
            runtime_id="c-1",
            state="running",
            health=Health.READY,
            last_log="listening",
            ip="10.1.0.5",
            started_at=START,
            ready_at=START + timedelta(seconds=2),
        )
        status.write_pass(
            session,
            key,
            records=[record],
            status=EnvStatus(EnvPhase.AVAILABLE, "1/1 ready", release.release.number, 1, 1, 1),
            events=[("started", "instance i1 started")],
            now=START,
        )
    return key
