"""`dockyard drains list|add|show|rm` against the real API app: the drain is recorded as asked,
its token never printed, its delivery state shown; a bad URL is one line naming the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from dockyard.cli.app import app
from dockyard.cli.context import CliEnv

from .api_support import API, TestClient
from .test_cli_bandwidth import dockyard  # noqa: F401 - the fixture running the CLI in-process


def test_a_drain_is_added_listed_shown_and_removed_by_the_cli(
    dockyard: Callable[..., str],  # noqa: F811 - the fixture imported above
    client: TestClient,
    alpha: dict[str, str],
) -> None:
    added = dockyard(
        "drains", "add", "siem", "--kind", "http", "--url", "https://siem.example/in",
        "--service", "web", "--env", "online", "--header", "Authorization=Bearer t0ps3cret",
    )  # fmt: skip
    assert "drain alpha/siem added (dockyard.logs.alpha.web.online.*)" in added
    stored = client.get(f"{API}/teams/alpha/drains/siem", headers=alpha).json()
    assert (stored["services"], stored["envs"]) == (["web"], ["online"])
    listed = dockyard("drains", "list")
    assert "siem" in listed and "https://siem.example/in" in listed
    shown = dockyard("drains", "show", "siem")
    assert "Authorization" in shown and "t0ps3cret" not in shown
    assert "0 lines, last -" in shown
    assert "t0ps3cret" not in dockyard("drains", "show", "siem", "-o", "json")
    assert "drain alpha/siem removed" in dockyard("drains", "rm", "siem")
    assert "no drains" in dockyard("drains", "list")


def test_a_bad_drain_url_is_one_line_naming_the_problem(
    client: TestClient, alpha: dict[str, str], tmp_path: Path
) -> None:
    environ = {
        "HOME": str(tmp_path),
        "DOCKYARD_URL": "http://testserver",
        "DOCKYARD_TOKEN": alpha["Authorization"].removeprefix("Bearer "),
        "DOCKYARD_CONFIG": str(tmp_path / "config.json"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
    }
    env = CliEnv(environ=environ, transport=client._transport, uid=1000)
    args = ["drains", "add", "x", "--kind", "syslog", "--url", "syslog://host"]
    result = CliRunner().invoke(app, args, obj=env)
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [
        "error: a syslog drain's URL needs a port, e.g. syslog://host:6514"
    ]
