"""A service's log flood budget through the API: set at create and update, shown back (burst 0:
five seconds' worth), removed with null (the platform's default again), refused with a 422 out
of range."""

from __future__ import annotations

import pytest

from .api_support import API, TestClient


def test_log_rate_is_set_shown_changed_and_removed(
    client: TestClient, alpha: dict[str, str]
) -> None:
    body = {"name": "api", "image": "alpha/api:1", "log_rate": {"lines_per_s": 500}}
    created = client.post(f"{API}/teams/alpha/services", json=body, headers=alpha)
    assert created.status_code == 201, created.text
    url = f"{API}/teams/alpha/services/api"
    assert client.get(url, headers=alpha).json()["spec"]["log_rate"] == {
        "lines_per_s": 500,
        "burst": 0,
    }

    changed = client.patch(
        url, json={"log_rate": {"lines_per_s": 50, "burst": 1000}}, headers=alpha
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["spec"]["log_rate"] == {"lines_per_s": 50, "burst": 1000}

    removed = client.patch(url, json={"log_rate": None}, headers=alpha)
    assert removed.status_code == 200, removed.text
    assert client.get(url, headers=alpha).json()["spec"]["log_rate"] is None


@pytest.mark.parametrize(
    "given",
    [{"lines_per_s": 0}, {"lines_per_s": 2_000_000}, {"lines_per_s": 5, "burst": -1}, {}],
)
def test_out_of_range_log_rates_are_refused_with_422(
    client: TestClient, alpha: dict[str, str], web: str, given: dict[str, int]
) -> None:
    created = client.post(
        f"{API}/teams/alpha/services",
        json={"name": "bad", "image": "a/b:1", "log_rate": given},
        headers=alpha,
    )
    assert created.status_code == 422, created.text
    assert "log_rate" in created.text
    updated = client.patch(web, json={"log_rate": given}, headers=alpha)
    assert updated.status_code == 422, updated.text
