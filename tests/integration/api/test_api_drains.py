"""Log drains through the API: a team member adds, lists, shows and removes its team's drains;
header values (tokens) are never shown back; a bad kind or URL is a 422 naming the field; the
drainer's delivery state shows in the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dockyard.domain.drain import DrainState
from dockyard.store import drains
from dockyard.store.db import Database

from .api_support import API, MovableClock, TestClient

DRAINS = f"{API}/teams/alpha/drains"
HTTP_DRAIN: dict[str, Any] = {
    "name": "siem",
    "kind": "http",
    "url": "https://logs.example.com/ingest",
    "services": ["web"],
    "envs": ["online"],
    "headers": {"Authorization": "Bearer s3cr3t-token"},
}


def test_a_member_adds_lists_shows_and_removes_a_drain(
    client: TestClient, alpha: dict[str, str]
) -> None:
    added = client.post(DRAINS, json=HTTP_DRAIN, headers=alpha)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["header_names"] == ["Authorization"]
    assert body["subject"] == "dockyard.logs.alpha.web.online.*"
    assert body["state"]["delivered"] == 0
    listed = client.get(DRAINS, headers=alpha).json()["items"]
    assert [d["name"] for d in listed] == ["siem"]
    shown = client.get(f"{DRAINS}/siem", headers=alpha)
    assert shown.status_code == 200
    for answer in (added, shown, client.get(DRAINS, headers=alpha)):
        assert "s3cr3t" not in answer.text
    assert client.delete(f"{DRAINS}/siem", headers=alpha).status_code == 200
    assert client.get(f"{DRAINS}/siem", headers=alpha).status_code == 404


def test_a_second_drain_of_the_same_name_conflicts(
    client: TestClient, alpha: dict[str, str]
) -> None:
    assert client.post(DRAINS, json=HTTP_DRAIN, headers=alpha).status_code == 201
    again = client.post(DRAINS, json=HTTP_DRAIN, headers=alpha)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "kafka"}, "kind"),
        ({"kind": "syslog", "url": "https://x/"}, "url"),
        ({"kind": "syslog", "url": "syslog://host"}, "url"),
        ({"url": "ftp://host/x"}, "url"),
        ({"url": "http://"}, "url"),
        (
            {"kind": "syslog", "url": "syslog://h:514", "headers": {}, "ca_file": "/ca.pem"},
            "ca_file",
        ),
        ({"kind": "syslog", "url": "syslog://h:514"}, "headers"),
        ({"services": ["Not A Name"]}, "services"),
        ({"envs": ["prod"]}, "envs"),
    ],
)
def test_a_bad_drain_is_refused_naming_the_field(
    client: TestClient, alpha: dict[str, str], change: dict[str, Any], field: str
) -> None:
    answer = client.post(DRAINS, json={**HTTP_DRAIN, **change}, headers=alpha)
    assert answer.status_code == 422, answer.text
    assert field in (answer.json().get("field") or "") + answer.json()["message"]


def test_the_drainers_state_shows_with_the_lag(
    client: TestClient, alpha: dict[str, str], db: Database, clock: MovableClock
) -> None:
    drain_id = client.post(DRAINS, json=HTTP_DRAIN, headers=alpha).status_code
    assert drain_id == 201
    with db.session() as session:
        (drain,) = drains.all_drains(session)
        state = DrainState(
            delivered=7,
            pending=2,
            oldest_undelivered=clock() - timedelta(seconds=30),
            last_error="the destination refused: 503",
            last_error_at=clock(),
            updated_at=clock(),
        )
        drains.write_state(session, drain.id, state)
    shown = client.get(f"{DRAINS}/siem", headers=alpha).json()["state"]
    assert shown["delivered"] == 7
    assert shown["pending"] == 2
    assert shown["lag_s"] == 30.0
    assert shown["last_error"] == "the destination refused: 503"


def test_the_admin_sees_every_teams_drains(
    client: TestClient, alpha: dict[str, str], admin: dict[str, str]
) -> None:
    assert client.post(DRAINS, json=HTTP_DRAIN, headers=alpha).status_code == 201
    assert [d["name"] for d in client.get(DRAINS, headers=admin).json()["items"]] == ["siem"]
