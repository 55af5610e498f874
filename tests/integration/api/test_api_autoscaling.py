"""Autoscaling through the API and `dockyard autoscale`: a policy is set, shown and turned off;
bad policies are refused naming the field; scaling by hand pauses it until resumed; `service
show` tells it."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.api.deps import ApiDeps
from dockyard.store import autoscale_decisions, autoscaling

from .api_support import TestClient, make_team
from .test_cli_bandwidth import dockyard  # noqa: F401 - the fixture running the CLI in-process

POLICY = {"min": 1, "max": 6, "metric": "cpu", "target_percent": 70}


def test_a_policy_is_set_read_and_turned_off(
    client: TestClient, alpha: dict[str, str], web: str
) -> None:
    put = client.put(f"{web}/autoscaling?env=online", json=POLICY, headers=alpha)
    assert put.status_code == 200, put.text
    got = client.get(f"{web}/autoscaling", params={"env": "online"}, headers=alpha).json()
    assert (got["min"], got["max"], got["metric"], got["target_percent"]) == (1, 6, "cpu", 70)
    assert (got["up_step"], got["down_step"], got["down_window_s"]) == ("100%", "1", 60.0)
    assert got["state"] == "active" and got["decisions"] == []
    assert client.get(f"{web}/autoscaling?env=test", headers=alpha).status_code == 404
    listed = client.get(f"{web}/autoscaling/envs", headers=alpha).json()["items"]
    assert [a["env"] for a in listed] == ["online"]
    assert client.delete(f"{web}/autoscaling?env=online", headers=alpha).status_code == 200
    assert client.get(f"{web}/autoscaling?env=online", headers=alpha).status_code == 404


def test_a_bad_policy_is_refused_naming_the_field(
    client: TestClient, alpha: dict[str, str], web: str
) -> None:
    for body, field in (
        ({**POLICY, "min": 5, "max": 2}, "max"),
        ({**POLICY, "up_step": "fast"}, "up_step"),
        ({**POLICY, "metric": "disk"}, "metric"),
    ):
        answer = client.put(f"{web}/autoscaling", json=body, headers=alpha)
        assert answer.status_code == 422, answer.text
        assert field in (answer.json().get("field") or "") + answer.json()["message"]


def test_another_teams_service_is_not_found(
    client: TestClient, admin: dict[str, str], alpha: dict[str, str], web: str
) -> None:
    beta = make_team(client, admin, "beta")
    assert client.put(f"{web}/autoscaling", json=POLICY, headers=beta).status_code == 404


def test_scaling_by_hand_pauses_until_resumed(
    client: TestClient, alpha: dict[str, str], web: str
) -> None:
    client.post(f"{web}/envs/test/deploy", json={"replicas": 2}, headers=alpha)
    client.put(f"{web}/autoscaling", json=POLICY, headers=alpha)
    client.post(f"{web}/envs/test/scale", json={"replicas": 4}, headers=alpha)
    paused = client.get(f"{web}/autoscaling", headers=alpha).json()
    assert paused["state"] == "paused"
    assert paused["paused"].startswith("scaled to 4 by alpha/ci")
    events = client.get(f"{web}/events?env=test", headers=alpha).json()["items"]
    assert any(e["message"].startswith("autoscaler paused: scaled to 4") for e in events)
    resumed = client.post(f"{web}/autoscaling/resume", headers=alpha).json()
    assert resumed["state"] == "active" and resumed["paused"] is None


def test_the_cli_sets_shows_pauses_and_turns_off_autoscaling(
    dockyard: Callable[..., str],  # noqa: F811 - the fixture imported above
    client: TestClient,
    alpha: dict[str, str],
    web: str,
    deps: ApiDeps,
) -> None:
    client.post(f"{web}/envs/test/deploy", json={"replicas": 2}, headers=alpha)
    out = dockyard(
        "autoscale", "web", "--env", "test", "--min", "1", "--max", "10", "--cpu", "70",
        "--up-step", "4", "--down-window", "2m",
    )  # fmt: skip
    assert "1-10 instances, cpu 70 % of the limit; steps +4 -1" in out
    assert "down 120s" in out
    with deps.db.session() as session:
        (target,) = autoscaling.targets(session)
        autoscale_decisions.apply(
            session, target, replicas=4, figure=182.0, now=deps.clock(),
            reason="autoscaler: cpu 182 % of target over 6 s → 2 → 4",
        )  # fmt: skip
    shown = dockyard("autoscale", "web")
    assert "active" in shown
    assert "autoscaler: cpu 182 % of target over 6 s → 2 → 4" in shown
    assert "182 % of target" in shown
    assert "paused: paused by alpha/ci" in dockyard("autoscale", "web", "--pause")
    service = dockyard("service", "show", "web")
    assert "1-10 instances" in service and "paused: paused by alpha/ci" in service
    assert "active" in dockyard("autoscale", "web", "--resume")
    assert "is off" in dockyard("autoscale", "web", "--off")
    assert "no autoscaling" in dockyard("service", "show", "web")
