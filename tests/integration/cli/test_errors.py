"""API errors become one `error: <message>` line on stderr with exit code 1; usage errors exit 2.

Runs against the fake API of fake_api.py (the real one is being written concurrently).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cli.conftest import Cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["service", "show", "nope", "--team", "web"], "error: service web/nope not found"),
        (["teams", "create", "web"], "error: team 'web' already exists: pick another name"),
        (["teams", "create", "Bad_Name"], "error: team 'Bad_Name' is not a valid name"),
        (["--token", "wrong", "teams"], "error: the token is unknown, revoked or expired"),
        (["teams", "delete", "ghost"], "error: team 'ghost' not found"),
    ],
    ids=["404", "409", "422", "401", "404-delete"],
)
def test_api_error_is_one_line_on_stderr_with_exit_1(
    cli: Cli, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_conflicting_team_delete_says_what_to_do(cli: Cli) -> None:
    cli("service", "create", "shop", "--team", "web", "--image", "shop:1")
    result = cli("teams", "delete", "web")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: team 'web' still has services: delete them first\n",
    )


def test_connection_refused_says_how_to_start_dockyard(
    cli: Cli, free_port: Callable[[], int]
) -> None:
    cli.use_fake_network = False
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("--url", url, "--token", "t", "teams")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot reach Dockyard at {url}: is it running? start it with `dockyard up`\n"
    )


def test_admin_must_name_a_team(cli: Cli) -> None:
    result = cli("services")
    assert result.exit_code == 1
    assert "name one with --team TEAM" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["service", "create", "shop", "--team", "web", "--image", "x", "--env", "NOEQUALS"],
        ["service", "create", "shop", "--team", "web", "--image", "x", "--port", "http"],
        ["deploy", "shop", "--team", "web", "--env", "prod"],
        ["scale", "shop", "-1", "--env", "test"],
        ["service", "update", "shop", "--team", "web", "--health-http", "/", "--health-cmd", "t"],
    ],
    ids=["bad-pair", "bad-port", "bad-env", "negative-replicas", "two-health-checks"],
)
def test_usage_errors_exit_2_before_any_request(cli: Cli, args: list[str]) -> None:
    before = len(cli.api.requests)
    result = cli(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    # update reads the service first; nothing is ever written
    assert all(r.method == "GET" for r in cli.api.requests[before:])


def test_a_bad_setting_is_named_in_one_line(cli: Cli) -> None:
    cli.environ["DOCKYARD_URL"] = "localhost:8420"
    result = cli("teams")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: DOCKYARD_URL='localhost:8420' is invalid: use http://")
