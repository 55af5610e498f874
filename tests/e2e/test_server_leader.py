"""Two real `dockyard server` processes over one PostgreSQL database and one etcd: exactly one
leads, either one's API takes work that the leader carries out at once (the standby nudges
it: far sooner than the resync), and after `kill -9` of the leader the other takes over within
about the TTL and finishes later work with exactly the wanted containers (no duplicates, no
orphans).

Real parts: two `dockyard server` child processes, PostgreSQL, etcd, the Docker engine.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.test_server_crash import (
    NETWORK,
    assert_converged,
    available_at,
    create_service,
    wait_for,
)
from tests.support.etcd import EtcdServer
from tests.support.postgres import postgres_database, postgres_server
from tests.support.server import ServerProcess

__all__ = ["postgres_database", "postgres_server"]
pytestmark = [pytest.mark.docker, pytest.mark.postgres]
TTL_S = 3
RESYNC_S = 60
NUDGED_S = 15.0
"""The deploy via the standby is available within this (a few seconds of rollout), far
inside the resync interval: only the standby's nudge can have started it."""
TAKEOVER_MARGIN_S = 3.0
"""Past the TTL: the survivor polls the key every TTL/5, and the test polls /healthz/parts."""


@pytest.fixture
def servers(
    tmp_path: Path,
    postgres_database: str,
    etcd_server: EtcdServer,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two servers sharing the database, etcd (under a prefix of this test's own) and the admin
    token: the first creates the token; the second finds it made and writes no credentials, so
    it is handed the first's file. Both stop before `docker_team`'s containers are removed."""
    env = {
        "DOCKYARD_DATABASE_URL": postgres_database,
        "DOCKYARD_ETCD_ENDPOINTS": etcd_server.endpoint,
        "DOCKYARD_ETCD_PREFIX": f"/t-{secrets.token_hex(4)}",
        "DOCKYARD_LEADER_TTL_S": str(TTL_S),
        # Long: work done through the standby must reach the leader by its nudge.
        "DOCKYARD_RESYNC_INTERVAL_S": str(RESYNC_S),
    }
    first = ServerProcess(tmp_path / "a", network=NETWORK, extra_env=env)
    second = ServerProcess(tmp_path / "b", network=NETWORK, extra_env=env)
    first.state_dir.mkdir()
    second.state_dir.mkdir()
    try:
        first.start()
        shutil.copy(first.state_dir / "credentials.json", second.state_dir / "credentials.json")
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def parts(server: ServerProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/healthz/parts", timeout=5).json()
    return body


def one_leads(pair: tuple[ServerProcess, ServerProcess]) -> bool:
    reports = [parts(server) for server in pair]
    return [r["leading"] for r in reports].count(True) == 1 and all(r["leader"] for r in reports)


def test_one_server_leads_and_the_other_takes_over_after_kill_9(
    servers: tuple[ServerProcess, ServerProcess],
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> None:
    wait_for(lambda: one_leads(servers), timeout_s=2 * TTL_S, what="one leader, known to both")
    leader, standby = sorted(servers, key=lambda s: not parts(s)["leading"])
    names = {parts(server)["leader"] for server in servers}
    assert len(names) == 1, f"the servers disagree on who leads: {names}"
    assert leader.process is not None and f"pid {leader.process.pid} " in names.pop()
    assert parts(standby)["leading"] is False

    team = docker_team
    with standby.client() as api:
        # The standby runs no controllers: it nudges the leader, whose controllers carry out
        # its deploy at once, not at their resync.
        base = create_service(api, team, test_image)
        time.sleep(1)  # past the leader's first resync, which would see any service there
        api.post(f"{base}/deploy", json={"replicas": 2}).raise_for_status()
        wait_for(available_at(api, base, 1), timeout_s=NUDGED_S, what="the deploy via the standby")
        assert_converged(docker_engine, api, base, team=team, replicas=2, revision=1)

        leader.kill()
        killed_at = time.monotonic()
        api.post(f"{base}/scale", json={"replicas": 3}).raise_for_status()
        wait_for(
            lambda: bool(parts(standby)["leading"]),
            timeout_s=TTL_S + TAKEOVER_MARGIN_S,
            what="the standby to take over",
        )
        took_over_s = time.monotonic() - killed_at
        assert f"pid {standby.process.pid if standby.process else '?'} " in parts(standby)["leader"]
        wait_for(available_at(api, base, 2), timeout_s=30, what="the scale after the takeover")
        time.sleep(2)  # a resync or two more: nothing may change once available
        assert_converged(docker_engine, api, base, team=team, replicas=3, revision=2)
    # The dead leader's lease was refreshed at most TTL/3 before the kill, so its key lives on
    # for at least 2/3 of the TTL after it: a takeover sooner would mean two leaders at once.
    assert took_over_s >= TTL_S * 2 / 3 - 0.5, f"took over after {took_over_s:.1f}s"
