"""Deploy, scale and rollback: numbered revisions, optimistic locking, telling the controller."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey
from dockyard.store import releases
from dockyard.store.db import Database
from dockyard.store.status import key_for

from .api_support import TestClient, snapshot


def _revisions(client: TestClient, url: str, headers) -> list[tuple[int, str, int, str]]:
    items = client.get(f"{url}/envs/test/revisions", headers=headers).json()["items"]
    return [(r["number"], r["image"], r["replicas"], r["cause"]) for r in items]


def test_deploy_scale_rollback_make_numbered_revisions(client: TestClient, alpha, web):
    first = client.post(f"{web}/envs/test/deploy", json={"replicas": 2}, headers=alpha)
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1
    assert first.json()["created_by"] == "alpha/ci"
    second = client.post(f"{web}/envs/test/deploy", json={"image": "alpha/web:2"}, headers=alpha)
    assert (second.json()["number"], second.json()["replicas"]) == (2, 2)
    assert second.json()["template_hash"] != first.json()["template_hash"]
    scaled = client.post(f"{web}/envs/test/scale", json={"replicas": 5}, headers=alpha).json()
    assert scaled["template_hash"] == second.json()["template_hash"]
    back = client.post(f"{web}/envs/test/rollback", json={}, headers=alpha)
    assert back.status_code == 201
    assert _revisions(client, web, alpha) == [
        (4, "alpha/web:2", 2, "rollback to 2"),
        (3, "alpha/web:2", 5, "scale 2 -> 5"),
        (2, "alpha/web:2", 2, "deploy alpha/web:2"),
        (1, "alpha/web:1", 2, "deploy alpha/web:1"),
    ]
    current = client.get(f"{web}/envs/test", headers=alpha).json()["current"]
    assert current["number"] == 4


def test_rollback_to_a_chosen_revision_reapplies_image_and_replicas(client: TestClient, alpha, web):
    client.post(f"{web}/envs/test/deploy", json={"replicas": 3}, headers=alpha)
    client.post(f"{web}/envs/test/deploy", json={"image": "alpha/web:2"}, headers=alpha)
    client.post(f"{web}/envs/test/scale", json={"replicas": 7}, headers=alpha)
    back = client.post(f"{web}/envs/test/rollback", json={"to": 1}, headers=alpha).json()
    assert (back["number"], back["image"], back["replicas"]) == (4, "alpha/web:1", 3)
    one = client.get(f"{web}/envs/test/revisions/1", headers=alpha).json()
    assert back["spec"] == one["spec"]


def test_deploy_env_overrides_merge_over_the_template(client: TestClient, alpha, web):
    client.patch(web, json={"env": {"A": "1", "B": "2"}}, headers=alpha)
    release = client.post(
        f"{web}/envs/sandbox/deploy", json={"env": {"B": "3"}}, headers=alpha
    ).json()
    assert release["env"] == "sandbox"
    assert release["spec"]["env"] == {"A": "1", "B": "3"}


def test_environments_keep_their_own_revision_numbers(client: TestClient, alpha, web):
    client.post(f"{web}/envs/test/deploy", headers=alpha)
    client.post(f"{web}/envs/test/deploy", headers=alpha)
    online = client.post(f"{web}/envs/online/deploy", headers=alpha).json()
    assert online["number"] == 1
    items = client.get(f"{web}/envs", headers=alpha).json()["items"]
    assert [(e["env"], e["current"] and e["current"]["number"]) for e in items] == [
        ("test", 2),
        ("sandbox", None),
        ("online", 1),
        ("stable", None),
    ]


def test_each_change_tells_the_controller_its_environment(
    client: TestClient, alpha, web, db: Database, notified: list[EnvKey]
):
    client.post(f"{web}/envs/test/deploy", headers=alpha)
    client.post(f"{web}/envs/test/scale", json={"replicas": 3}, headers=alpha)
    client.post(f"{web}/envs/online/deploy", headers=alpha)
    client.post(f"{web}/envs/test/rollback", headers=alpha)
    with db.session() as session:
        test = key_for(session, team="alpha", service="web", env=Environment.TEST)
        online = key_for(session, team="alpha", service="web", env=Environment.ONLINE)
    assert notified == [test, test, online, test]


def test_stale_expected_revision_is_a_conflict_and_changes_nothing(
    client: TestClient, alpha, web, db: Database, notified: list[EnvKey]
):
    client.post(f"{web}/envs/test/deploy", headers=alpha)
    client.post(f"{web}/envs/test/scale", json={"replicas": 2}, headers=alpha)
    before, told = snapshot(db), list(notified)
    for action, body in (
        ("scale", {"replicas": 4, "expected_revision": 1}),
        ("deploy", {"image": "alpha/web:9", "expected_revision": 1}),
        ("rollback", {"expected_revision": 1}),
    ):
        answer = client.post(f"{web}/envs/test/{action}", json=body, headers=alpha)
        assert answer.status_code == 409, action
        assert answer.json()["error"] == "conflict"
        assert "revision 2" in answer.json()["message"]
    assert snapshot(db) == before
    assert notified == told
    fresh = client.post(
        f"{web}/envs/test/scale", json={"replicas": 4, "expected_revision": 2}, headers=alpha
    )
    assert fresh.status_code == 201


def test_two_concurrent_scales_one_wins_one_conflicts(
    client: TestClient, alpha, web, db: Database, monkeypatch: pytest.MonkeyPatch
):
    client.post(f"{web}/envs/test/deploy", headers=alpha)
    # Both requests read the environment (and its version) before either writes: the interleaving
    # that loses an update when nothing checks.
    both_read = threading.Barrier(2, timeout=10)
    read_env = releases.env_row

    def env_row_then_wait(*args, **kwargs):
        row = read_env(*args, **kwargs)
        both_read.wait()
        return row

    monkeypatch.setattr(releases, "env_row", env_row_then_wait)

    def scale(replicas: int):
        return client.post(f"{web}/envs/test/scale", json={"replicas": replicas}, headers=alpha)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(scale, (3, 4)))
    monkeypatch.undo()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.json()["error"] == "conflict"
    winner = next(a for a in answers if a.status_code == 201).json()
    history = client.get(f"{web}/envs/test/revisions", headers=alpha).json()["items"]
    assert [(r["number"], r["replicas"]) for r in history] == [(2, winner["replicas"]), (1, 1)]
