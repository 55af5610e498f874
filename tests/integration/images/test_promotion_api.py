"""The promotion API's validation and reads, without containers: policy, overrides, approvals,
the pipeline view."""

from __future__ import annotations

import pytest

from tests.integration.images.conftest import Center

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"soak_s": -1}, "soak_s"),
        ({"stable_follows": "stable"}, "stable_follows"),
        ({"stable_follows": "prod"}, "stable_follows"),
        ({"approval": True}, "approval"),
    ],
)
def test_a_bad_policy_is_refused(center: Center, body: dict[str, object], field: str) -> None:
    answer = center.client.put(center.service() + "/promotion/policy", json=body, headers=center.ci)
    assert answer.status_code == 422
    assert answer.json()["field"] == field


def test_policy_and_overrides_are_read_back(center: Center) -> None:
    body = {"soak_s": 60, "online_approval": True, "stable_follows": "sandbox"}
    assert (
        center.client.put(
            center.service() + "/promotion/policy", json=body, headers=center.ci
        ).json()
        == body
    )
    answer = center.client.put(
        center.service() + "/envs/online/overrides",
        json={"replicas": 3, "env": {"MODE": "live"}},
        headers=center.ci,
    )
    assert answer.json() == {"environment": "online", "replicas": 3, "env": {"MODE": "live"}}
    listed = center.client.get(center.service() + "/overrides", headers=center.ci).json()["items"]
    assert [o["environment"] for o in listed] == ["test", "sandbox", "online", "stable"]
    assert listed[2]["replicas"] == 3 and listed[0] == {
        "environment": "test",
        "replicas": None,
        "env": {},
    }
    pipeline = center.client.get(center.service() + "/promotion", headers=center.ci).json()
    assert pipeline["policy"] == body
    assert [s["env"] for s in pipeline["stages"]] == ["test", "sandbox", "online", "stable"]
    assert pipeline["stages"][0]["promotable"] is False
    assert pipeline["stages"][0]["gates"][1] == {
        "name": "digest",
        "passed": False,
        "detail": "test runs nothing yet",
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [({"replicas": -1}, 422), ({"env": {"1BAD": "x"}}, 422), ({"colour": "red"}, 422)],
)
def test_a_bad_override_is_refused(center: Center, body: dict[str, object], code: int) -> None:
    answer = center.client.put(
        center.service() + "/envs/test/overrides", json=body, headers=center.ci
    )
    assert answer.status_code == code


def test_approving_needs_a_digest(center: Center) -> None:
    nothing = center.client.post(center.service() + "/approvals", json={}, headers=center.lead)
    assert nothing.status_code == 409 and "nothing to approve" in nothing.json()["message"]
    bad = center.client.post(
        center.service() + "/approvals", json={"digest": "sha256:xyz"}, headers=center.lead
    )
    assert bad.status_code == 422 and bad.json()["field"] == "digest"


def test_another_team_sees_none_of_it(center: Center) -> None:
    other = "/api/v1/teams/elsewhere/services/web"
    for path in ("/promotion", "/builds", "/images", "/overrides", "/source"):
        assert center.client.get(other + path, headers=center.ci).status_code == 404
    retention = center.client.post("/api/v1/images/retention", json={}, headers=center.ci)
    assert retention.status_code == 403
