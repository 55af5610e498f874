"""Declared log files and the multi-line rule through the API: set at create and update, shown
back, refused with a 422 naming the field and saying what to do."""

from __future__ import annotations

import pytest

from .api_support import API, TestClient


def test_log_paths_and_multiline_are_set_shown_and_changed(
    client: TestClient, alpha: dict[str, str]
) -> None:
    body = {
        "name": "api", "image": "alpha/api:1", "log_paths": ["/app/logs/*.log"],
        "log_multiline": {"start": r"^\d{4}-", "max_wait_s": 0.5},
    }  # fmt: skip
    created = client.post(f"{API}/teams/alpha/services", json=body, headers=alpha)
    assert created.status_code == 201, created.text
    url = f"{API}/teams/alpha/services/api"

    spec = client.get(url, headers=alpha).json()["spec"]
    assert spec["log_paths"] == ["/app/logs/*.log"]
    assert spec["log_multiline"] == {"start": r"^\d{4}-", "max_bytes": 65536, "max_wait_s": 0.5}

    changed = client.patch(
        url, json={"log_paths": ["/app/logs/*.log", "/srv/audit.log"], "log_multiline": None},
        headers=alpha,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    spec = client.get(url, headers=alpha).json()["spec"]
    assert spec["log_paths"] == ["/app/logs/*.log", "/srv/audit.log"]
    assert spec["log_multiline"] is None


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"log_paths": ["logs/app.log"]}, "is relative"),
        ({"log_paths": ["/app/../etc/x.log"]}, "'..'"),
        ({"log_paths": ["/app/*/x.log"]}, "glob in its directory"),
        ({"log_paths": ["/proc/1/x.log"]}, "system directory"),
        ({"log_paths": ["/x.log"]}, "system directory /"),
        ({"log_paths": [f"/app/l{i}/a.log" for i in range(9)]}, "at most 8"),
        ({"log_paths": ["/app/a\tb.log"]}, "control characters"),
        ({"log_multiline": {"start": "^(x"}}, "not a regular expression"),
        ({"log_multiline": {"start": "^x", "max_bytes": 1}}, "greater than or equal"),
    ],
)
def test_bad_log_settings_are_refused_with_422(
    client: TestClient, alpha: dict[str, str], web: str, given: dict[str, object], says: str
) -> None:
    created = client.post(
        f"{API}/teams/alpha/services", json={"name": "bad", "image": "a/b:1", **given},
        headers=alpha,
    )  # fmt: skip
    assert created.status_code == 422, created.text
    assert says in created.text
    updated = client.patch(web, json=given, headers=alpha)
    assert updated.status_code == 422, updated.text
    assert says in updated.text
