"""`dockyard service create/update --log-path --log-multiline` against the real API app."""

from __future__ import annotations

from collections.abc import Callable

from .api_support import API, TestClient
from .test_cli_bandwidth import dockyard  # noqa: F401 - the fixture running the CLI in-process


def test_log_files_are_set_changed_shown_and_removed_by_the_cli(
    dockyard: Callable[..., str],  # noqa: F811 - the fixture imported above
    client: TestClient,
    alpha: dict[str, str],
) -> None:
    dockyard(
        "service", "create", "shop", "--image", "alpha/shop:1",
        "--log-path", "/app/logs/*.log", "--log-path", "/app/audit/audit.log",
        "--log-multiline", r"^\d{4}-",
    )  # fmt: skip
    url = f"{API}/teams/alpha/services/shop"
    spec = client.get(url, headers=alpha).json()["spec"]
    assert spec["log_paths"] == ["/app/logs/*.log", "/app/audit/audit.log"]
    assert spec["log_multiline"]["start"] == r"^\d{4}-"

    shown = dockyard("service", "show", "shop")
    assert "/app/logs/*.log /app/audit/audit.log" in shown
    assert r"records start at '^\\d{4}-'" in shown

    dockyard("service", "update", "shop", "--log-path", "/srv/app.log", "--no-log-multiline")
    spec = client.get(url, headers=alpha).json()["spec"]
    assert (spec["log_paths"], spec["log_multiline"]) == (["/srv/app.log"], None)
    dockyard("service", "update", "shop", "--no-log-paths")
    assert client.get(url, headers=alpha).json()["spec"]["log_paths"] == []
