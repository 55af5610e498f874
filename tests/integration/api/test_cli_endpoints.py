"""`dockyard endpoints` and `dockyard service update --publish` against the real API app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from dockyard.api import ApiDeps, build_api
from dockyard.cli import app
from dockyard.cli.context import CliEnv
from dockyard.domain.status import Health
from dockyard.store.db import Database
from tests.support.serving import serve

from .api_support import API, TestClient
from .test_api_endpoints import deploy, inst, write


def cli_env(tmp_path: Path, headers: dict[str, str], url: str, transport: Any = None) -> CliEnv:
    environ = {
        "HOME": str(tmp_path),
        "DOCKYARD_URL": url,
        "DOCKYARD_TOKEN": headers["Authorization"].removeprefix("Bearer "),
        "DOCKYARD_CONFIG": str(tmp_path / "config.json"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
    }
    return CliEnv(environ=environ, transport=transport, uid=1000)


@pytest.fixture
def run(client: TestClient, alpha: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    env = cli_env(tmp_path, alpha, "http://testserver", client._transport)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), obj=env)

    yield invoke


def test_endpoints_prints_the_ready_instances_and_the_fallback(
    run: Any, client: TestClient, alpha: dict[str, str], web: str, db: Database
) -> None:
    for env in ("test", "stable"):
        deploy(client, web, alpha, env)
    write(db, "test", inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3", Health.STARTING))
    write(db, "stable", inst("s1", "10.2.0.2"))
    shown = run("endpoints", "web", "--env", "test")
    assert shown.exit_code == 0, shown.output
    assert "10.1.0.2" in shown.stdout and "8080/tcp" in shown.stdout
    assert "10.1.0.3" not in shown.stdout
    write(db, "test")
    fallback = run("endpoints", "web", "--env", "test", "--fallback")
    assert "(fallback: stable)" in fallback.stdout and "10.2.0.2" in fallback.stdout
    empty = run("endpoints", "web", "--env", "test")
    assert "no ready instance in test" in empty.stdout
    missing = run("endpoints", "nope", "--env", "test")
    assert missing.exit_code == 1
    assert missing.output.startswith("error: service 'nope'")
    assert len(missing.output.strip().splitlines()) == 1


def test_publish_is_set_by_the_cli_and_bad_values_are_usage_errors(
    run: Any, client: TestClient, alpha: dict[str, str], web: str
) -> None:
    assert run("service", "update", "web", "--publish", "beta,gamma").exit_code == 0
    spec = client.get(web, headers=alpha).json()["spec"]
    assert spec["publish"] == ["beta", "gamma"]
    assert run("service", "update", "web", "--publish", "all").exit_code == 0
    assert client.get(web, headers=alpha).json()["spec"]["publish"] == "all"
    bad = run("service", "update", "web", "--publish", "Bad Team")
    assert bad.exit_code == 2 and "--publish" in bad.output
    created = run("service", "create", "api", "--image", "alpha/api:1", "--publish", "beta")
    assert created.exit_code == 0, created.output
    api = client.get(f"{API}/teams/alpha/services/api", headers=alpha).json()
    assert api["spec"]["publish"] == ["beta"]


@pytest.mark.timeout(30)
def test_watch_prints_each_change_until_the_service_goes(
    deps: ApiDeps, alpha: dict[str, str], web: str, db: Database, tmp_path: Path
) -> None:
    api = build_api(deps)
    with serve(api) as url, httpx.Client(base_url=url, headers=alpha) as http:
        assert http.post(f"{web}/envs/test/deploy", json={"replicas": 1}).status_code == 201
        write(db, "test", inst("t1", "10.1.0.2"))
        env = cli_env(tmp_path, alpha, url)
        result: list[Result] = []
        watcher = threading.Thread(
            target=lambda: result.append(
                CliRunner().invoke(app, ["endpoints", "web", "--env", "test", "-w"], obj=env)
            )
        )
        watcher.start()
        watching(api)
        write(db, "test", inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3"))
        threading.Event().wait(0.5)
        assert http.delete(web).status_code == 202
        watcher.join(10)
    (done,) = result
    assert done.exit_code == 1
    first, second = done.stdout.split("alpha/web in test")[1:3]
    assert "10.1.0.2" in first and "10.1.0.3" not in first
    assert "10.1.0.3" in second
    assert done.output.strip().splitlines()[-1].startswith("error: the watch stopped: service")


def watching(api: Any, *, timeout_s: float = 10.0) -> None:
    """Return once the server has a watcher and its first answer has gone (on a loaded machine
    the CLI may take longer than any fixed pause to start)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        watch = getattr(api.state, "endpoint_watch", None)
        if watch is not None and watch.watched > 0:
            time.sleep(0.3)  # the first answer (the current set) is written right after
            return
        time.sleep(0.02)
    raise AssertionError("the CLI's watch never reached the server")
