"""Where the CLI finds its server and token: `login`, the host's credentials file, overrides.

Runs against the fake API of fake_api.py (the real one is being written concurrently).
"""

from __future__ import annotations

import json
import stat

from tests.integration.cli.conftest import LOCAL_URL, Cli
from tests.integration.cli.fake_api import ADMIN_TOKEN, WEB_TOKEN, FakeApi

REMOTE = "http://dockyard.example:8420"


def _token_sent(api: FakeApi) -> str:
    return api.requests[-1].headers["authorization"].removeprefix("Bearer ")


def test_on_the_host_the_cli_uses_the_local_admin_credentials(cli: Cli, api: FakeApi) -> None:
    result = cli("whoami", "-o", "json")
    assert json.loads(result.stdout)["admin"] is True
    assert str(api.requests[-1].url).startswith(LOCAL_URL)


def test_login_writes_url_and_token_readable_by_the_owner_only(cli: Cli, api: FakeApi) -> None:
    result = cli("login", REMOTE + "/", "--token", WEB_TOKEN)
    assert result.exit_code == 0, result.stderr
    assert "as ci (team web)" in result.stdout
    assert json.loads(cli.config_file.read_text()) == {"url": REMOTE, "token": WEB_TOKEN}
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    cli("teams")
    assert str(api.requests[-1].url).startswith(REMOTE)
    assert _token_sent(api) == WEB_TOKEN


def test_login_with_a_bad_token_stores_nothing(cli: Cli) -> None:
    result = cli("login", REMOTE, "--token", "wrong")
    assert result.exit_code == 1
    assert not cli.config_file.exists()


def test_explicit_url_of_the_host_still_uses_the_local_token(cli: Cli, api: FakeApi) -> None:
    cli("login", REMOTE, "--token", WEB_TOKEN)
    cli("--url", LOCAL_URL, "teams")
    assert _token_sent(api) == ADMIN_TOKEN


def test_a_stored_token_is_never_sent_to_another_server(cli: Cli, api: FakeApi) -> None:
    result = cli("--url", "http://elsewhere:1", "teams")
    assert result.exit_code == 1
    assert "authorization" not in api.requests[-1].headers
    assert "no token is configured" in result.stderr


def test_environment_variables_override_the_stored_login(cli: Cli, api: FakeApi) -> None:
    cli.environ["DOCKYARD_TOKEN"] = WEB_TOKEN
    cli("teams")
    assert _token_sent(api) == WEB_TOKEN
    cli("--token", ADMIN_TOKEN, "teams")
    assert _token_sent(api) == ADMIN_TOKEN
