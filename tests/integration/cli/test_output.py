"""Read commands print Rich tables by default and exactly the API's JSON with `-o json`.

The API is a fake that follows docs/api.md (fake_api.py): the real one is being written
concurrently; these tests will move to it once it exists.
"""

from __future__ import annotations

import json

import pytest

from dockyard.cli.commands import services
from tests.integration.cli.conftest import Cli
from tests.integration.cli.fake_api import WEB_TOKEN, FakeApi


def test_teams_prints_a_table_with_one_row_per_team(cli: Cli) -> None:
    result = cli("teams")
    assert result.exit_code == 0
    header, *rows = [line for line in result.stdout.splitlines() if line.strip()]
    assert header.split() == ["NAME", "DESCRIPTION", "CREATED"]
    assert "web" in rows[-1] and "storefront" in rows[-1] and "2025-01-02 03:04:05" in rows[-1]


def test_json_output_is_the_api_answer_unchanged(cli: Cli, api: FakeApi) -> None:
    result = cli("teams", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"items": [api.teams["web"]]}


def test_services_defaults_to_the_team_of_the_token(cli: Cli) -> None:
    assert cli("service", "create", "shop", "--image", "shop:1", "--team", "web").exit_code == 0
    result = cli("--token", WEB_TOKEN, "services", "-o", "json")
    assert result.exit_code == 0
    assert [s["name"] for s in json.loads(result.stdout)["items"]] == ["shop"]


def test_services_follows_every_page(
    cli: Cli, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a1", "b2", "c3"):
        cli("service", "create", name, "--image", "x:1", "--team", "web")
    monkeypatch.setattr(services, "PAGE", 2)  # a page smaller than the list
    result = cli("services", "--team", "web", "-o", "json")
    assert [s["name"] for s in json.loads(result.stdout)["items"]] == ["a1", "b2", "c3"]
    pages = [r for r in api.requests if r.url.path.endswith("/services") and r.method == "GET"]
    assert len(pages) == 2


def test_service_create_sends_the_fields_given(cli: Cli, api: FakeApi) -> None:
    result = cli(
        "service", "create", "shop", "--team", "web", "--image", "shop:1",
        "--port", "8080", "--port", "53/udp", "--env", "MODE=prod", "--env", "URL=a=b",
        "--cpus", "0.25", "--memory-mb", "128", "--health-http", "/ok",
        "--max-surge", "2", "--max-unavailable", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert api.services[("web", "shop")]["spec"] == {
        "image": "shop:1",
        "ports": [
            {"container_port": 8080, "protocol": "tcp"},
            {"container_port": 53, "protocol": "udp"},
        ],
        "env": {"MODE": "prod", "URL": "a=b"},
        "resources": {"cpus": 0.25, "memory_mb": 128},
        "strategy": {"max_surge": 2, "max_unavailable": 1},
        "health_check": {"http_path": "/ok"},
    }


def test_service_update_merges_into_the_current_template(cli: Cli, api: FakeApi) -> None:
    cli("service", "create", "shop", "--team", "web", "--image", "shop:1", "--cpus", "1",
        "--memory-mb", "512", "--env", "A=1")  # fmt: skip
    result = cli("service", "update", "shop", "--team", "web", "--cpus", "2", "--env", "B=2")
    assert result.exit_code == 0, result.stderr
    spec = api.services[("web", "shop")]["spec"]
    assert spec["resources"] == {"cpus": 2.0, "memory_mb": 512}
    assert spec["env"] == {"A": "1", "B": "2"}


def test_service_show_lists_each_deployed_environment(cli: Cli) -> None:
    cli("service", "create", "shop", "--team", "web", "--image", "shop:1")
    cli("deploy", "shop", "--team", "web", "--env", "test", "--replicas", "2")
    result = cli("service", "show", "shop", "--team", "web")
    assert result.exit_code == 0
    test_row = next(line for line in result.stdout.splitlines() if line.strip().startswith("test"))
    assert test_row.split()[:5] == ["test", "1", "shop:1", "2/2", "available"]


def test_create_deploy_and_show_say_a_service_without_check_is_ready_on_tcp_connect(
    cli: Cli,
) -> None:
    tcp = "readiness: TCP connect to port 8080 (no health check given)"
    created = cli(
        "service", "create", "shop", "--team", "web", "--image", "shop:1", "--port", "8080"
    )
    assert created.exit_code == 0, created.stderr
    assert tcp in created.stdout
    deployed = cli("deploy", "shop", "--team", "web", "--env", "test", "--no-wait")
    assert tcp in deployed.stdout, deployed.stdout
    shown = cli("service", "show", "shop", "--team", "web").stdout
    assert "TCP connect to port 8080 (no health check given)" in " ".join(shown.split())
    cli("service", "update", "shop", "--team", "web", "--health-http", "/ok")
    shown = cli("service", "show", "shop", "--team", "web").stdout
    assert "HTTP GET /ok on port 8080 (health check given)" in " ".join(shown.split())


def test_history_instances_and_events_tables(cli: Cli) -> None:
    cli("service", "create", "shop", "--team", "web", "--image", "shop:1")
    cli("deploy", "shop", "--team", "web", "--env", "test", "--replicas", "2")
    cli("deploy", "shop", "--team", "web", "--env", "test", "--image", "shop:2")
    history = cli("history", "shop", "--team", "web", "--env", "test").stdout
    rows = [line.split() for line in history.splitlines()]
    assert [row[0] for row in rows if row and row[0].isdigit()] == ["2", "1"]
    instances = cli("instances", "shop", "--team", "web", "--env", "test", "-o", "json")
    assert [i["revision"] for i in json.loads(instances.stdout)["items"]] == [2, 2]
    events = cli("events", "shop", "--team", "web", "--env", "online").stdout
    assert "revision 1" in events and "available" not in events


def test_whoami_names_the_identity(cli: Cli) -> None:
    assert "admin (platform admin)" in cli("whoami").stdout
    assert json.loads(cli("--token", WEB_TOKEN, "whoami", "-o", "json").stdout) == {
        "name": "ci",
        "team": "web",
        "admin": False,
    }


def test_token_create_shows_the_secret_once_and_revoke_marks_it(cli: Cli, api: FakeApi) -> None:
    created = cli("tokens", "create", "--team", "web", "--name", "deployer")
    assert created.exit_code == 0
    secret = created.stdout.strip().splitlines()[-1]
    assert api.tokens[secret]["name"] == "deployer"
    token_id = api.tokens[secret]["id"]
    assert token_id in cli("tokens", "--team", "web").stdout
    assert cli("tokens", "revoke", token_id).exit_code == 0
    assert secret not in api.tokens
