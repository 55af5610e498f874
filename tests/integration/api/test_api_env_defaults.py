"""Environment default limits over HTTP and through the CLI: the admin sets them, anyone reads
them, a deploy resolves a service's unset limits with them and every answer says where each
limit came from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.context import CliEnv

from .api_support import API, TestClient

Run = Callable[..., str]


def _runner(client: TestClient, headers: dict[str, str], home: Path) -> Run:
    token = headers["Authorization"].removeprefix("Bearer ")
    environ = {
        "HOME": str(home),
        "DOCKYARD_URL": "http://testserver",
        "DOCKYARD_TOKEN": token,
        "DOCKYARD_CONFIG": str(home / "config.json"),
        "DOCKYARD_CREDENTIALS_FILE": str(home / "credentials.json"),
        "DOCKYARD_STATE_DIR": str(home / "state"),
    }
    env = CliEnv(environ=environ, transport=client._transport, uid=1000)

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), obj=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    return run


@pytest.fixture
def dockyard(client: TestClient, alpha: dict[str, str], tmp_path: Path) -> Iterator[Run]:
    """`dockyard ARGS` in-process as team alpha."""
    yield _runner(client, alpha, tmp_path / "alpha")


@pytest.fixture
def as_admin(client: TestClient, admin: dict[str, str], tmp_path: Path) -> Iterator[Run]:
    yield _runner(client, admin, tmp_path / "admin")


def test_the_admin_sets_a_default_and_teams_only_read_it(
    client: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    assert (
        client.patch(f"{API}/environments/test", json={"cpus": 4.0}, headers=alpha).status_code
        == 403
    )
    changed = client.patch(
        f"{API}/environments/online", json={"memory_mb": 2048, "pids": 4096}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["defaults"] == {"cpus": 0.5, "memory_mb": 2048, "pids": 4096}

    listed = client.get(f"{API}/environments", headers=alpha).json()["items"]
    assert [e["env"] for e in listed] == ["test", "sandbox", "online", "stable"]
    assert listed[2]["updated_by"] == "admin" and listed[2]["network"] == "online"
    assert client.get(f"{API}/environments/online", headers=alpha).json() == listed[2]
    refused = client.patch(f"{API}/environments/test", json={"cpus": 0}, headers=admin)
    assert refused.status_code == 422


def test_unset_limits_are_null_in_the_template_and_resolved_in_the_revision(
    client: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    created = client.post(
        f"{API}/teams/alpha/services",
        json={"name": "cache", "image": "alpha/cache:1", "resources": {"memory_mb": 1024}},
        headers=alpha,
    )
    assert created.status_code == 201, created.text
    assert created.json()["spec"]["resources"] == {"cpus": None, "memory_mb": 1024, "pids": None}
    client.patch(f"{API}/environments/test", json={"cpus": 1.5}, headers=admin)

    release = client.post(
        f"{API}/teams/alpha/services/cache/envs/test/deploy", json={}, headers=alpha
    ).json()

    assert release["spec"]["resources"] == {"cpus": 1.5, "memory_mb": 1024, "pids": 512}
    assert release["resources_from"] == {
        "cpus": "environment", "memory_mb": "service", "pids": "environment"
    }  # fmt: skip
    # A limit set back to null follows the environment again.
    updated = client.patch(
        f"{API}/teams/alpha/services/cache", json={"resources": {"cpus": 2.0}}, headers=alpha
    )
    assert updated.json()["spec"]["resources"] == {"cpus": 2.0, "memory_mb": None, "pids": None}


def test_cli_shows_limits_and_their_source_in_deploy_scale_and_show(
    dockyard: Run, as_admin: Run
) -> None:
    dockyard("service", "create", "web", "--image", "alpha/web:1", "--pids", "300")
    as_admin("environments", "set", "test", "--cpus", "0.25", "--memory-mb", "128")
    listed = as_admin("environments", "list")
    assert "0.25" in listed and "128" in listed

    deployed = dockyard("deploy", "web", "--env", "test", "--no-wait")
    expected = "each instance: 0.25 cpus (test default), 128 MiB (test default), 300 pids (own)"
    assert expected in deployed
    assert expected in dockyard("scale", "web", "2", "--env", "test", "--no-wait")

    shown = dockyard("service", "show", "web")
    assert "300 pids, cpus and memory: the environment's default" in shown
    lines = [" ".join(line.split()) for line in shown.splitlines()]
    assert any(
        line.startswith("test 0.25 cpus (test default)") and "revision 2" in line for line in lines
    )
    # Not deployed to online: what a deploy would give there now.
    assert any(
        line.startswith(
            "online 0.5 cpus (online default), 256 MiB (online default), 300 pids (own)"
        )
        and "next deploy" in line
        for line in lines
    )

    dockyard("service", "update", "web", "--cpus", "1", "--default-limit", "pids")
    redeployed = dockyard("deploy", "web", "--env", "test", "--no-wait")
    assert "1 cpus (own), 128 MiB (test default), 512 pids (test default)" in redeployed
