"""Refused requests: each answers the documented JSON with the right status and field, and
leaves the database exactly as it was."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.api.limits import BodyLimit
from dockyard.domain.status import EnvKey
from dockyard.store import teams
from dockyard.store.db import Database, open_engine

from .api_support import API, TestClient, snapshot

SVC = f"{API}/teams/alpha/services"
WEB = f"{SVC}/web"
TWO_MIB = 2 * 1024 * 1024

# (method, path, JSON body, status, error code, field)
REFUSED: list[tuple[str, str, Any, int, str, str | None]] = [
    ("POST", f"{WEB}/envs/test/scale", {"replicas": -1}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/test/scale", {"replicas": 100_000}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/test/scale", {"replicas": "3"}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/test/scale", {"replicas": 2.5}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/test/scale", {}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/test/deploy", {"replicas": 10**30}, 422, "invalid", "replicas"),
    ("POST", f"{WEB}/envs/prod/deploy", {}, 422, "invalid", "env"),
    ("POST", f"{WEB}/envs/prod/scale", {"replicas": 1}, 422, "invalid", "env"),
    ("POST", f"{WEB}/envs/test/deploy", {"image": "Bad Image!"}, 422, "invalid", "image"),
    ("POST", f"{WEB}/envs/test/deploy", {"replica": 2}, 422, "invalid", "replica"),
    ("POST", f"{WEB}/envs/test/deploy", {"env": {"1BAD": "x"}}, 422, "invalid", "env"),
    ("POST", f"{WEB}/envs/test/deploy", {"env": {"A": 1}}, 422, "invalid", "env.A"),
    ("POST", f"{WEB}/envs/test/rollback", {"to": 99}, 404, "not_found", "revision"),
    ("POST", f"{WEB}/envs/test/rollback", {"to": 1}, 422, "invalid", "to"),
    ("POST", f"{WEB}/envs/sandbox/scale", {"replicas": 2}, 409, "conflict", None),
    ("POST", f"{WEB}/envs/test/scale", [1, 2], 422, "invalid", None),
    ("POST", SVC, {"name": "web", "image": "alpha/web:1"}, 409, "conflict", None),
    ("POST", SVC, {"name": "Bad_Name", "image": "alpha/x"}, 422, "invalid", "name"),
    ("POST", SVC, {"name": "x"}, 422, "invalid", "image"),
    ("POST", SVC, {"name": "x", "image": "UPPER/case"}, 422, "invalid", "image"),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "resources": {"memory_mb": 4}},
        422,
        "invalid",
        "resources.memory_mb",
    ),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "resources": {"gpus": 1}},
        422,
        "invalid",
        "resources.gpus",
    ),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "ports": [{"container_port": 70000}]},
        422,
        "invalid",
        "ports.0.container_port",
    ),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "capabilities": ["SYS_ADMIN"]},
        422,
        "invalid",
        "capabilities",
    ),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "health_check": {"http_path": "/h"}},
        422,
        "invalid",
        "health_check",
    ),
    ("PATCH", WEB, {"resources": {"memory_mb": 8}}, 422, "invalid", "resources.memory_mb"),
    ("PATCH", WEB, {"image": None}, 422, "invalid", "image"),
    ("PATCH", WEB, {"name": "renamed"}, 422, "invalid", "name"),
    (
        "PATCH",
        WEB,
        {"strategy": {"max_surge": 0, "max_unavailable": 0}},
        422,
        "invalid",
        "strategy",
    ),
    ("PATCH", f"{SVC}/nope", {"image": "alpha/x"}, 404, "not_found", None),
    ("POST", f"{API}/teams/alpha/tokens", {"name": "t"}, 403, "forbidden", None),
    ("POST", f"{API}/teams/alpha/tokens", {"expires_in_days": 0}, 422, "invalid", "name"),
    ("DELETE", f"{API}/teams/alpha", None, 403, "forbidden", None),
]


@pytest.fixture
def deployed(client: TestClient, alpha, web) -> None:
    """alpha/web deployed once to test (revision 1)."""
    assert client.post(f"{web}/envs/test/deploy", headers=alpha).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    REFUSED,
    ids=[f"{m} {p.removeprefix(SVC) or '/'} {json.dumps(b)}" for m, p, b, *_ in REFUSED],
)
def test_refused_request_answers_json_and_changes_nothing(
    client: TestClient,
    alpha,
    deployed,
    db: Database,
    notified: list[EnvKey],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
    field: str | None,
):
    before, told = snapshot(db), list(notified)
    answer = client.request(method, path, json=body, headers=alpha)
    assert answer.status_code == status, answer.text
    assert answer.json() == {"error": code, "message": answer.json()["message"], "field": field}
    assert len(answer.json()["message"]) > 10
    assert snapshot(db) == before
    assert notified == told


def test_unknown_env_names_the_allowed_ones(client: TestClient, alpha, web):
    message = client.post(f"{web}/envs/prod/deploy", headers=alpha).json()["message"]
    assert all(env in message for env in ("test", "sandbox", "online", "stable"))


def test_unknown_field_message_names_the_field(client: TestClient, alpha, web):
    answer = client.post(f"{web}/envs/test/deploy", json={"replica": 2}, headers=alpha)
    assert "'replica'" in answer.json()["message"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b'{"replicas": ', "application/json"), (b"replicas=2", "application/x-www-form-urlencoded")],
)
def test_malformed_body_is_422_json(client, alpha, web, db, raw: bytes, content_type: str):
    before = snapshot(db)
    answer = client.post(
        f"{web}/envs/test/scale", content=raw, headers={**alpha, "Content-Type": content_type}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid"
    assert "JSON" in answer.json()["message"]
    assert snapshot(db) == before


def test_unknown_revision_is_404(client: TestClient, alpha, web, deployed):
    answer = client.get(f"{web}/envs/test/revisions/42", headers=alpha)
    assert answer.status_code == 404
    assert answer.json()["field"] == "revision"


def test_bad_query_values_are_422_naming_the_parameter(client: TestClient, alpha, web):
    for url in (f"{SVC}?limit=0", f"{SVC}?limit=abc", f"{web}/events?env=prod"):
        answer = client.get(url, headers=alpha)
        assert answer.status_code == 422, url
        assert answer.json()["field"] in {"limit", "env"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_two_mib_body_is_413_and_changes_nothing(client, alpha, db, chunked: bool):
    body = json.dumps({"name": "big", "image": "alpha/x", "env": {"PAD": "x" * TWO_MIB}}).encode()
    before = snapshot(db)
    if chunked:
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        answer = client.post(SVC, content=pieces, headers=alpha)
    else:
        answer = client.post(
            SVC, content=body, headers={**alpha, "Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    assert "1 MiB" in answer.json()["message"]
    assert snapshot(db) == before


async def test_body_limit_counts_streamed_chunks_without_content_length():
    reached = []

    async def app(scope, receive, send) -> None:
        reached.append(await receive())

    limited = BodyLimit(app, max_bytes=1000)
    chunks = [{"type": "http.request", "body": b"x" * 400, "more_body": True} for _ in range(3)]
    sent: list[dict[str, Any]] = []

    async def receive():
        return chunks.pop(0)

    async def send(message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await limited(scope, receive, send)
    assert reached == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"] == "too_large"


async def test_body_limit_replays_a_small_chunked_body_whole():
    reached = []

    async def app(scope, receive, send) -> None:
        reached.append(await receive())

    chunks = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]

    async def receive():
        return chunks.pop(0)

    async def send(message) -> None:
        raise AssertionError("nothing should be sent by the limit")

    await BodyLimit(app, max_bytes=1000)({"type": "http", "headers": []}, receive, send)
    assert reached == [{"type": "http.request", "body": b"abcd", "more_body": False}]


def test_unexpected_error_is_500_json_without_traceback_and_logged(
    client: TestClient, admin, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals at 0xdeadbeef")

    monkeypatch.setattr(teams, "list_teams", broken)
    with caplog.at_level(logging.ERROR, logger="dockyard.api"):
        answer = client.get(f"{API}/teams", headers=admin)
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal"
    assert "0xdeadbeef" not in answer.text and "Traceback" not in answer.text
    assert any("0xdeadbeef" in (r.exc_text or "") for r in caplog.records)


def test_notify_failure_does_not_fail_a_committed_change(client, alpha, web, deps: ApiDeps):
    def refuse(_key: EnvKey) -> None:
        raise RuntimeError("controller queue is closed")

    with TestClient(build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=refuse))) as other:
        answer = other.post(f"{web}/envs/test/deploy", headers=alpha)
    assert answer.status_code == 201
    assert client.get(f"{web}/envs/test", headers=alpha).json()["current"]["number"] == 1


def test_unknown_route_is_404_json(client: TestClient, admin):
    answer = client.get(f"{API}/nothing-here", headers=admin)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_healthz_needs_no_token_and_checks_the_database(client: TestClient, tmp_path):
    assert client.get("/healthz").json() == {"status": "ok"}
    broken = Database(open_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"))
    deps = ApiDeps(db=broken, clock=lambda: None, notify=lambda _key: None)  # type: ignore[arg-type]
    with TestClient(build_api(deps)) as down:
        answer = down.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["error"] == "unavailable"


def test_openapi_document_lists_every_documented_route(client: TestClient):
    answer = client.get(f"{API}/openapi.json")
    assert answer.status_code == 200
    document = json.loads(answer.text)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    svc = "/api/v1/teams/{team}/services/{svc}"
    expected = {
        "/api/v1/whoami": {"get"},
        "/api/v1/teams": {"get", "post"},
        "/api/v1/teams/{team}": {"get", "delete"},
        "/api/v1/tokens": {"get"},
        "/api/v1/teams/{team}/tokens": {"post"},
        "/api/v1/tokens/{token_id}": {"delete"},
        "/api/v1/teams/{team}/services": {"get", "post"},
        svc: {"get", "patch", "delete"},
        f"{svc}/envs": {"get"},
        f"{svc}/envs/{{env}}": {"get"},
        f"{svc}/envs/{{env}}/deploy": {"post"},
        f"{svc}/envs/{{env}}/scale": {"post"},
        f"{svc}/envs/{{env}}/rollback": {"post"},
        f"{svc}/envs/{{env}}/revisions": {"get"},
        f"{svc}/envs/{{env}}/revisions/{{n}}": {"get"},
        f"{svc}/envs/{{env}}/instances": {"get"},
        f"{svc}/events": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    scale = paths[f"{svc}/envs/{{env}}/scale"]["post"]
    assert scale["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert client.get("/api/docs").status_code == 200
