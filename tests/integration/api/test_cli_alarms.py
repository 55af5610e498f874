"""`dockyard alarms ...` against the real API app: rules added from a built-in figure and
listed; receivers added, listed with their delivery state, removed; alarms listed,
acknowledged; a threshold that does not read is a usage error naming the option."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from dockyard.cli.app import app
from dockyard.cli.context import CliEnv

from .api_support import API, TestClient
from .test_api_alarms import (  # noqa: F401 - the fixtures giving the app its alarms
    _alert,
    _post,
    alertmanager,
    deps,
    layout,
    sent,
)
from .test_cli_bandwidth import dockyard  # noqa: F401 - the fixture running the CLI in-process


def test_rules_receivers_and_alarms_through_the_cli(
    dockyard: Callable[..., str],  # noqa: F811 - the fixture imported above
    client: TestClient,
    alpha: dict[str, str],
    web: str,
) -> None:
    added = dockyard(
        "alarms", "receivers", "add", "chat", "--kind", "slack", "--target", "http://chat.test/h"
    )
    assert "receiver alpha/chat added (slack)" in added
    rule = dockyard(
        "alarms", "rules", "add", "web", "mem", "--env", "online", "--when", "memory > 85",
        "--for", "30", "--severity", "critical", "--receiver", "chat",
    )  # fmt: skip
    assert "alarm rule web/mem added: (100 * dockyard_instance_memory_working_set_bytes" in rule
    stored = client.get(f"{API}/teams/alpha/services/web/alarm-rules/mem", headers=alpha).json()
    assert (stored["for_s"], stored["receivers"]) == (30, ["chat"])
    assert "memory > 85" in dockyard("alarms", "rules", "list", "web")

    _post(client, _alert())
    listed = dockyard("alarms", "list")
    assert "memory-high" in listed and "critical" in listed
    (alarm,) = client.get(f"{API}/teams/alpha/alarms", headers=alpha).json()["items"]
    acked = dockyard("alarms", "ack", str(alarm["id"]))
    assert f"alarm {alarm['id']} (memory-high) acknowledged by alpha/ci" in acked
    assert "DELIVERED" in dockyard("alarms", "receivers", "list")

    assert "removed" in dockyard("alarms", "rules", "rm", "web", "mem")
    assert "removed" in dockyard("alarms", "receivers", "rm", "chat")
    assert client.get(f"{API}/teams/alpha/alarm-receivers", headers=alpha).json()["items"] == []


def test_a_threshold_that_does_not_read_is_a_usage_error(tmp_path: Path) -> None:
    # Refused before any request: no server is needed.
    environ = {"HOME": str(tmp_path), "DOCKYARD_URL": "http://testserver", "DOCKYARD_TOKEN": "t"}
    args = ["alarms", "rules", "add", "web", "mem", "--env", "test", "--when", "memory>85"]
    result = CliRunner().invoke(app, args, obj=CliEnv(environ=environ))
    assert result.exit_code == 2
    assert "FIGURE OP NUMBER" in result.output
