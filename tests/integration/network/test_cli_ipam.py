"""`dockyard segments ...` and `dockyard ipam ...` against the real API app and a real etcd."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.context import CliEnv
from dockyard.network.ipam import Holder, pool_of

from .conftest import IpamApi

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def dockyard(ipam_api: IpamApi, tmp_path: Path) -> Run:
    """Runs `dockyard ARGS` in-process as admin; requests go to the test app."""
    environ = {
        "HOME": str(tmp_path),
        "DOCKYARD_URL": "http://testserver",
        "DOCKYARD_TOKEN": ipam_api.admin["Authorization"].removeprefix("Bearer "),
        "DOCKYARD_CONFIG": str(tmp_path / "config.json"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
    }
    env = CliEnv(environ=environ, transport=ipam_api.client._transport, uid=1000)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), obj=env)
        return result.exit_code, result.stdout + result.stderr

    return run


def test_segments_are_created_listed_shown_and_deleted(dockyard: Run) -> None:
    code, out = dockyard(
        "segments",
        "create",
        "off1",
        "--cidr",
        "10.40.0.0/24",
        "-e",
        "test",
        "-e",
        "stable",
        "--reserve",
        "10.40.0.250-10.40.0.254",
    )
    assert code == 0 and "segment off1 created: 10.40.0.0/24 via 10.40.0.1" in out
    code, out = dockyard("segments", "list")
    assert code == 0 and "off1" in out and "0 used / 248 free / 6 reserved" in out
    code, out = dockyard("segments", "show", "off1", "-o", "json")
    assert json.loads(out)["usage"]["free"] == 248
    code, out = dockyard("segments", "create", "off2", "--cidr", "10.40.0.0/25", "-e", "test")
    assert code == 1 and "overlaps segment off1" in out
    assert dockyard("segments", "delete", "off1") == (0, "segment off1 deleted\n")


def test_fixed_addresses_history_release_and_check(dockyard: Run, ipam_api: IpamApi) -> None:
    dockyard("segments", "create", "off1", "--cidr", "10.41.0.0/24", "-e", "test")
    code, out = dockyard(
        "ipam", "fixed", "add", "10.41.0.9", "-s", "web", "-t", "shop", "-e", "test"
    )
    assert code == 0, out
    code, out = dockyard("ipam", "fixed", "list")
    assert "10.41.0.9" in out and "shop/web" in out
    segment, fixed = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    holder = Holder(host="h1", claim="", since=datetime.now(UTC), instance="gone1", team="shop")
    lease = ipam_api.client.portal.call(  # type: ignore[union-attr]
        ipam_api.ipam.book.allocate, pool_of(segment, fixed), holder
    )
    code, out = dockyard("ipam", "check")
    assert code == 1 and "leak" in out and str(lease.address) in out
    code, out = dockyard("ipam", "release", str(lease.address), "--segment", "off1")
    assert code == 0 and "released (held by gone1)" in out
    code, out = dockyard("ipam", "history", "--instance", "gone1")
    assert code == 0 and str(lease.address) in out and "admin" in out
    assert dockyard("ipam", "check")[0] == 0


def test_hosts_shows_which_agents_are_alive_and_what_each_holds(
    dockyard: Run, ipam_api: IpamApi
) -> None:
    dockyard("segments", "create", "off1", "--cidr", "10.42.0.0/24", "-e", "test")
    portal = ipam_api.client.portal
    assert portal is not None
    since = datetime.now(UTC)
    portal.call(
        functools.partial(
            ipam_api.ipam.hosts.register, host="h1", version="1.2", started=since, ttl_s=30
        )
    )
    segment, fixed = portal.call(ipam_api.ipam.directory.load, "off1")
    for host in ("h1", "h1", "old"):
        portal.call(
            ipam_api.ipam.book.allocate,
            pool_of(segment, fixed),
            Holder(host=host, claim="", since=since, instance=f"i-{host}"),
        )
    code, out = dockyard("ipam", "hosts", "-o", "json")
    assert code == 0, out
    items = {item["host"]: item for item in json.loads(out)["items"]}
    assert (items["h1"]["alive"], items["h1"]["version"], items["h1"]["addresses"]) == (
        True,
        "1.2",
        2,
    )
    assert (items["old"]["alive"], items["old"]["registered"], items["old"]["addresses"]) == (
        False,
        None,
        1,
    )
    code, out = dockyard("ipam", "hosts")
    assert code == 0 and "never" in out and "1.2" in out
