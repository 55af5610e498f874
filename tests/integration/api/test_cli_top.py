"""`dockyard top` against a server and a real Prometheus holding two teams' series: each of the
team's instances with its CPU, memory of its limit, network rates and restarts (never the other
team's same-named service), refreshed with -w; Prometheus down is one line, exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dockyard.api import ApiDeps, build_api
from dockyard.cli import app as app_cli
from dockyard.cli.context import CliEnv
from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.settings import ClientCredentials, write_credentials
from dockyard.store.db import Database
from tests.support.nats import free_port
from tests.support.prometheus import RX_BYTES_S, instances_prometheus
from tests.support.serving import serve

from .api_support import MovableClock

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instances_prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def _top(
    db: Database, clock: MovableClock, prometheus: str, token: str, tmp_path: Path, *args: str
) -> Any:
    reader = PrometheusReader(prometheus, scrape_interval_s=1.0)
    app = build_api(ApiDeps(db=db, clock=clock, notify=lambda _: None, metrics=reader))
    creds = tmp_path / "credentials.json"
    with serve(app) as url:
        write_credentials(creds, ClientCredentials(url, token))
        environ = {
            "HOME": str(tmp_path / "home"),
            "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
            "DOCKYARD_CREDENTIALS_FILE": str(creds),
            "DOCKYARD_CONFIG": str(tmp_path / "home" / "config.json"),
        }
        return CliRunner().invoke(app_cli, ["top", "web", "-e", "test", *args],
                                  obj=CliEnv(environ=environ, uid=1000))  # fmt: skip


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_top_shows_each_instance_of_the_team(
    db: Database, clock: MovableClock, prometheus_url: str, alpha: dict[str, str], tmp_path: Path
) -> None:
    shown = _top(db, clock, prometheus_url, _token(alpha), tmp_path)
    assert shown.exit_code == 0, shown.output
    table = [line.split() for line in shown.stdout.splitlines() if line.strip()]
    header = ["INSTANCE", "CPU", "CPU/LIMIT", "MEMORY", "NET", "RX", "NET", "TX", "RESTARTS"]
    assert table[0] == header
    web1 = next(row for row in table if row[0] == "web-1")
    web2 = next(row for row in table if row[0] == "web-2")
    assert web1[3:7] == ["100.0", "MiB", "/", "1.0"] and web1[-1] == "0"
    assert web2[3:7] == ["120.0", "MiB", "/", "1.0"] and web2[-1] == "3"
    assert float(web1[1].rstrip("%")) == pytest.approx(50, rel=0.2)
    # web-1 uses 0.5 of its 1-core limit; web-2 has no CPU limit.
    assert float(web1[2].rstrip("%")) == pytest.approx(50, rel=0.2) and web2[2] == "-"
    # beta's web-1 (900 MiB, 7 restarts) is not there.
    assert "900.0" not in shown.stdout and len([r for r in table if r[0] == "web-1"]) == 1


def test_top_json_and_watch(
    db: Database, clock: MovableClock, prometheus_url: str, alpha: dict[str, str], tmp_path: Path
) -> None:
    as_json = _top(db, clock, prometheus_url, _token(alpha), tmp_path, "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    rows = {row["instance"]: row for row in json.loads(as_json.stdout)}
    assert set(rows) == {"web-1", "web-2"}
    assert rows["web-2"]["memory_limit"] == 1024 * 1024 * 1024
    assert rows["web-1"]["network_rx"] == pytest.approx(RX_BYTES_S, rel=0.2)
    watched = _top(db, clock, prometheus_url, _token(alpha), tmp_path,
                   "-w", "-n", "1", "--rounds", "2")  # fmt: skip
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.count("INSTANCE") == 2


def test_top_with_prometheus_down_says_so_in_one_line(
    db: Database, clock: MovableClock, alpha: dict[str, str], tmp_path: Path
) -> None:
    down = _top(db, clock, f"http://127.0.0.1:{free_port()}", _token(alpha), tmp_path)
    assert down.exit_code == 1
    assert down.output.strip().startswith("error: metrics unavailable")
    assert "Traceback" not in down.output and len(down.output.strip().splitlines()) == 1
