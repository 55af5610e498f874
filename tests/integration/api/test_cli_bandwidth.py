"""`dockyard service create/update --egress-mbit --ingress-mbit` against the real API app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.context import CliEnv

from .api_support import API, TestClient


@pytest.fixture
def dockyard(
    client: TestClient, alpha: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """Runs `dockyard ARGS` in-process as team alpha, its requests served by the test app."""
    token = alpha["Authorization"].removeprefix("Bearer ")
    environ = {
        "HOME": str(tmp_path),
        "DOCKYARD_URL": "http://testserver",
        "DOCKYARD_TOKEN": token,
        "DOCKYARD_CONFIG": str(tmp_path / "config.json"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
    }
    env = CliEnv(environ=environ, transport=client._transport, uid=1000)

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), obj=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    yield run


def test_limits_are_set_changed_lifted_and_shown_by_the_cli(dockyard, client: TestClient, alpha):
    dockyard("service", "create", "shop", "--image", "alpha/shop:1", "--egress-mbit", "30")
    spec = client.get(f"{API}/teams/alpha/services/shop", headers=alpha).json()["spec"]
    assert spec["bandwidth"] == {"egress_mbit": 30, "ingress_mbit": None}

    dockyard("service", "update", "shop", "--ingress-mbit", "20")
    dockyard("service", "update", "shop", "--egress-mbit", "0")  # 0 lifts the limit

    spec = client.get(f"{API}/teams/alpha/services/shop", headers=alpha).json()["spec"]
    assert spec["bandwidth"] == {"egress_mbit": None, "ingress_mbit": 20}
    shown = dockyard("service", "show", "shop")
    assert "out unlimited, in 20 Mbit/s" in shown
