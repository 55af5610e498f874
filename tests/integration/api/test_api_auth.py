"""Tokens and who may see what: admin bootstrap, team tokens, isolation, revocation, expiry."""

from __future__ import annotations

from .api_support import API, MovableClock, TestClient, bearer, make_team


def test_admin_token_from_first_start_is_the_admin(client: TestClient, admin: dict[str, str]):
    answer = client.get(f"{API}/whoami", headers=admin)
    assert answer.status_code == 200
    assert answer.json() == {"name": "admin", "team": None, "admin": True}


def test_team_token_speaks_for_its_team(client: TestClient, admin: dict[str, str]):
    alpha = make_team(client, admin, "alpha")
    assert client.get(f"{API}/whoami", headers=alpha).json() == {
        "name": "ci",
        "team": "alpha",
        "admin": False,
    }


def test_created_token_shows_its_secret_once(client: TestClient, admin: dict[str, str]):
    client.post(f"{API}/teams", json={"name": "alpha"}, headers=admin)
    created = client.post(
        f"{API}/teams/alpha/tokens", json={"name": "deployer", "expires_in_days": 30}, headers=admin
    )
    assert created.status_code == 201
    token = created.json()
    assert token["token"].startswith("dy_")
    assert token["team"] == "alpha"
    assert token["expires_at"] == "2025-03-31T12:00:00Z"
    listed = client.get(f"{API}/tokens", params={"team": "alpha"}, headers=admin).json()["items"]
    assert [t["id"] for t in listed] == [token["id"]]
    assert all("token" not in t for t in listed)


def test_missing_or_unknown_token_is_401_with_bearer_challenge(client: TestClient, admin):
    for headers in ({}, bearer("dy_nope_nope"), {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        answer = client.get(f"{API}/teams", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["error"] == "unauthorized"
        assert answer.json()["message"]


def test_revoked_token_is_refused(client: TestClient, admin: dict[str, str]):
    alpha = make_team(client, admin, "alpha")
    listed = client.get(f"{API}/tokens", params={"team": "alpha"}, headers=admin).json()["items"]
    token_id = listed[0]["id"]
    revoked = client.delete(f"{API}/tokens/{token_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] == "2025-03-01T12:00:00Z"
    answer = client.get(f"{API}/whoami", headers=alpha)
    assert answer.status_code == 401
    assert "revoked" in answer.json()["message"]


def test_expired_token_is_refused(client: TestClient, admin: dict[str, str], clock: MovableClock):
    client.post(f"{API}/teams", json={"name": "alpha"}, headers=admin)
    created = client.post(
        f"{API}/teams/alpha/tokens", json={"name": "short", "expires_in_days": 1}, headers=admin
    ).json()
    headers = bearer(created["token"])
    assert client.get(f"{API}/whoami", headers=headers).status_code == 200
    clock.advance(days=1, seconds=1)
    answer = client.get(f"{API}/whoami", headers=headers)
    assert answer.status_code == 401
    assert "expired" in answer.json()["message"]


def test_team_token_cannot_do_admin_things(client: TestClient, admin: dict[str, str]):
    alpha = make_team(client, admin, "alpha")
    for method, path, body in (
        ("POST", "/teams", {"name": "beta"}),
        ("POST", "/teams/alpha/tokens", {"name": "more"}),
        ("DELETE", "/teams/alpha", None),
    ):
        answer = client.request(method, API + path, json=body, headers=alpha)
        assert answer.status_code == 403, (method, path)
        assert answer.json()["error"] == "forbidden"
    assert client.get(f"{API}/teams/alpha", headers=admin).status_code == 200


def test_team_cannot_see_another_teams_things(client: TestClient, admin: dict[str, str]):
    alpha = make_team(client, admin, "alpha")
    beta = make_team(client, admin, "beta")
    body = {"name": "db", "image": "beta/db:1"}
    assert client.post(f"{API}/teams/beta/services", json=body, headers=beta).status_code == 201
    for method, path in (
        ("GET", "/teams/beta"),
        ("GET", "/teams/beta/services"),
        ("GET", "/teams/beta/services/db"),
        ("GET", "/teams/beta/services/db/envs/test/revisions"),
        ("POST", "/teams/beta/services/db/envs/test/deploy"),
        ("DELETE", "/teams/beta/services/db"),
        ("GET", "/tokens?team=beta"),
    ):
        answer = client.request(method, API + path, headers=alpha)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"] == "not_found"
    own = client.get(f"{API}/tokens", headers=alpha).json()["items"]
    assert {t["team"] for t in own} == {"alpha"}
    assert [t["name"] for t in client.get(f"{API}/teams", headers=alpha).json()["items"]] == [
        "alpha"
    ]
    assert client.get(f"{API}/teams/beta/services/db", headers=beta).status_code == 200
