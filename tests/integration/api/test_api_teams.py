"""Teams through the API, and one service's whole life from the first deploy to its deletion."""

from __future__ import annotations

from .api_support import API, TestClient


def test_admin_creates_lists_and_reads_teams(client: TestClient, admin):
    created = client.post(
        f"{API}/teams", json={"name": "payments", "description": "money in"}, headers=admin
    )
    assert created.status_code == 201
    assert created.json() == {
        "name": "payments",
        "description": "money in",
        "created_at": "2025-03-01T12:00:00Z",
    }
    client.post(f"{API}/teams", json={"name": "search"}, headers=admin)
    names = [t["name"] for t in client.get(f"{API}/teams", headers=admin).json()["items"]]
    assert names == ["payments", "search"]
    assert client.get(f"{API}/teams/search", headers=admin).json()["description"] == ""


def test_team_name_taken_or_malformed_is_refused(client: TestClient, admin):
    client.post(f"{API}/teams", json={"name": "payments"}, headers=admin)
    taken = client.post(f"{API}/teams", json={"name": "payments"}, headers=admin)
    assert taken.status_code == 409
    bad = client.post(f"{API}/teams", json={"name": "Pay Ments"}, headers=admin)
    assert (bad.status_code, bad.json()["field"]) == (422, "name")
    assert len(client.get(f"{API}/teams", headers=admin).json()["items"]) == 1


def test_team_with_services_cannot_be_deleted(client: TestClient, admin, alpha, web):
    refused = client.delete(f"{API}/teams/alpha", headers=admin)
    assert refused.status_code == 409
    assert "services" in refused.json()["message"]
    client.post(f"{API}/teams", json={"name": "empty"}, headers=admin)
    assert client.delete(f"{API}/teams/empty", headers=admin).status_code == 204
    assert client.get(f"{API}/teams/empty", headers=admin).status_code == 404


def test_service_lifecycle_from_create_to_delete(client: TestClient, alpha):
    services = f"{API}/teams/alpha/services"
    body = {"name": "shop", "image": "alpha/shop:1", "ports": [{"container_port": 80}]}
    assert client.post(services, json=body, headers=alpha).status_code == 201
    shop = f"{services}/shop"
    steps = [
        ("deploy", {"replicas": 2}),
        ("deploy", {"image": "alpha/shop:2"}),
        ("scale", {"replicas": 4}),
        ("rollback", {"to": 1}),
    ]
    for action, change in steps:
        answer = client.post(f"{shop}/envs/test/{action}", json=change, headers=alpha)
        assert answer.status_code == 201, (action, answer.text)
    current = client.get(shop, headers=alpha).json()["environments"][0]["current"]
    assert (current["number"], current["image"], current["replicas"]) == (4, "alpha/shop:1", 2)
    assert client.patch(shop, json={"stop_grace_s": 5.0}, headers=alpha).status_code == 200
    assert client.delete(shop, headers=alpha).status_code == 202
    assert client.get(shop, headers=alpha).status_code == 404
    again = client.post(services, json=body, headers=alpha)
    assert again.status_code == 409
    assert "still being deleted" in again.json()["message"]
