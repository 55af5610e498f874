"""The two busiest reads (a page of services, one service in detail) answer from renderings
kept per service version and release: they must say exactly what the schemas would, and
never what was true before a change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dockyard.api import ApiDeps, build_api
from dockyard.api.schemas import ServiceDetail, ServicePage, ServicePublic
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import environments, services, status, teams, tokens
from dockyard.store.db import Database

from .api_support import API, START, MovableClock, TestClient, bearer

BASE = f"{API}/teams/alpha/services"
ADMIN = Principal(token_id="test", name="admin", team=None)


def _schema_page(db: Database, *, limit: int, after: str | None = None) -> object:
    with db.session() as session:
        views = services.list_services(session, ADMIN, team="alpha", limit=limit, after=after)
    page = ServicePage(items=[ServicePublic.of(v) for v in views], next=None)
    return page.model_dump(mode="json")["items"]


def _schema_detail(db: Database, name: str) -> object:
    with db.session() as session:
        view = services.get_service(session, ADMIN, team="alpha", name=name)
        envs = environments.environments(session, ADMIN, team="alpha", service=name)
    return ServiceDetail.of_service(view, envs).model_dump(mode="json")


def _ready_instance(db: Database, revision: int) -> None:
    with db.session() as session:
        key = status.key_for(session, team="alpha", service="web", env=Environment.TEST)
        assert key is not None
        record = InstanceRecord(
            id="i1", revision=revision, template_hash="0123456789ab", runtime_id="c-1",
            state="running", health=Health.READY, ip="10.1.0.5", started_at=START,
        )  # fmt: skip
        status.write_pass(
            session, key, records=[record],
            status=EnvStatus(EnvPhase.AVAILABLE, "1/1 ready", revision, 1, 1, 1),
            events=[], now=START,
        )  # fmt: skip


def test_page_and_detail_say_exactly_what_the_schemas_say(
    client: TestClient, alpha, web, db: Database
):
    client.post(f"{BASE}/web/envs/test/deploy", json={"replicas": 1}, headers=alpha)
    client.post(f"{BASE}/web/envs/online/deploy", json={"image": "alpha/web:2"}, headers=alpha)
    _ready_instance(db, revision=1)
    body = {"name": "api", "image": "alpha/api:1", "env": {"Z": "ü", "A": '"q"'}}
    client.post(BASE, json=body, headers=alpha)
    for _ in range(2):  # rendered, then kept
        page = client.get(BASE, headers=alpha)
        detail = client.get(f"{BASE}/web", headers=alpha)
        assert page.headers["content-type"] == "application/json"
        assert page.json() == {"items": _schema_page(db, limit=100), "next": None}
        assert detail.json() == _schema_detail(db, "web")


def test_a_change_to_a_service_shows_in_the_next_answers(
    client: TestClient, alpha, web, clock: MovableClock
):
    assert client.get(BASE, headers=alpha).json()["items"][0]["spec"]["image"] == "alpha/web:1"
    client.get(f"{BASE}/web", headers=alpha)
    clock.advance(seconds=5)
    patched = client.patch(f"{BASE}/web", json={"image": "alpha/web:9"}, headers=alpha)
    assert patched.status_code == 200, patched.text
    (listed,) = client.get(BASE, headers=alpha).json()["items"]
    detail = client.get(f"{BASE}/web", headers=alpha).json()
    assert (listed["spec"]["image"], listed["updated_at"]) == (
        "alpha/web:9",
        "2025-03-01T12:00:05Z",
    )
    assert detail["spec"]["image"] == "alpha/web:9"
    client.delete(f"{BASE}/web", headers=alpha)
    assert client.get(BASE, headers=alpha).json() == {"items": [], "next": None}
    assert client.get(f"{BASE}/web", headers=alpha).status_code == 404


def test_a_new_revision_shows_in_the_next_detail(client: TestClient, alpha, web):
    client.post(f"{BASE}/web/envs/test/deploy", json={"replicas": 1}, headers=alpha)
    first = client.get(f"{BASE}/web", headers=alpha).json()["environments"][0]["current"]
    client.post(f"{BASE}/web/envs/test/scale", json={"replicas": 3}, headers=alpha)
    current = client.get(f"{BASE}/web", headers=alpha).json()["environments"][0]["current"]
    assert (first["number"], first["replicas"]) == (1, 1)
    assert (current["number"], current["replicas"]) == (2, 3)


def test_pages_follow_each_other_and_say_when_there_is_more(client: TestClient, alpha, db):
    for name in ("e", "a", "d", "b", "c"):
        client.post(BASE, json={"name": name, "image": f"alpha/{name}"}, headers=alpha)
    first = client.get(BASE, params={"limit": 2}, headers=alpha).json()
    second = client.get(BASE, params={"limit": 2, "after": first["next"]}, headers=alpha).json()
    last = client.get(BASE, params={"limit": 2, "after": second["next"]}, headers=alpha).json()
    assert [first["next"], second["next"], last["next"]] == ["b", "d", None]
    assert second["items"] == _schema_page(db, limit=2, after="b")
    assert [item["name"] for item in last["items"]] == ["e"]


def test_openapi_still_documents_the_page_and_the_detail(client: TestClient):
    document = client.get(f"{API}/openapi.json").json()
    answers = {
        path: document["paths"][f"{API}/teams/{{team}}/services{path}"]["get"]["responses"]["200"]
        for path in ("", "/{svc}")
    }
    schemas = {path: json.dumps(answer) for path, answer in answers.items()}
    assert "#/components/schemas/ServicePage" in schemas[""]
    assert "#/components/schemas/ServiceDetail" in schemas["/{svc}"]


def test_two_apps_over_two_databases_keep_their_own_renderings(
    deps: ApiDeps, alpha, web, client: TestClient, tmp_path: Path, migrated: Path
):
    """Row ids repeat across databases: what one app kept must never answer for the other."""
    client.get(BASE, headers=alpha)
    path = tmp_path / "other.db"
    shutil.copyfile(migrated, path)
    other = Database.open(f"sqlite:///{path}", upgrade=False)
    with other.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
        _, secret = tokens.create_token(
            session, ADMIN, team="alpha", name="ci", expires_at=None, now=START
        )
        services.create_service(
            session, ADMIN, team="alpha", name="web",
            spec=ServiceSpec(image="other/web:7"), now=START,
        )  # fmt: skip
    app = build_api(ApiDeps(db=other, clock=deps.clock, notify=lambda _key: None))
    with TestClient(app) as second:
        (item,) = second.get(BASE, headers=bearer(secret)).json()["items"]
    other.close()
    assert item["spec"]["image"] == "other/web:7"
