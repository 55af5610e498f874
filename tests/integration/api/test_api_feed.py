"""The all-services endpoint feed: the server's snapshot and its watch, and the client `Feed`
that keeps the last snapshot while the server is away and picks up what changed meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.discovery.feed import Backoff, Feed, Snapshot
from dockyard.discovery.snapshot_watch import SnapshotWatch
from dockyard.domain.environment import Environment
from dockyard.domain.status import Health
from dockyard.store.db import Database
from tests.support.serving import serve

from .api_support import API, TestClient, make_team
from .test_api_endpoints import deploy, inst, write

TEST = Environment.TEST


@pytest.fixture
def deployed(client: TestClient, alpha: dict[str, str], web: str, db: Database) -> str:
    for env in ("test", "stable"):
        deploy(client, web, alpha, env)
    write(db, "test", inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3", Health.STARTING))
    return web


def test_the_snapshot_holds_every_environment_and_every_instance_address(
    client: TestClient, admin: dict[str, str], deployed: str
) -> None:
    answer = client.get(f"{API}/endpoints", headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    routes = {(r["team"], r["service"], r["env"]): r for r in body["routes"]}
    assert set(routes) == {("alpha", "web", env.value) for env in Environment}
    test = routes[("alpha", "web", "test")]
    assert [e["address"] for e in test["endpoints"]] == ["10.1.0.2"]
    assert test["endpoints"][0]["ports"] == [{"port": 8080, "protocol": "tcp", "name": ""}]
    assert (test["publish"], routes[("alpha", "web", "stable")]["endpoints"]) == ("private", [])
    # The starting instance is no endpoint, but its address still names its environment.
    assert body["callers"] == [
        {"address": "10.1.0.2", "team": "alpha", "service": "web", "env": "test"},
        {"address": "10.1.0.3", "team": "alpha", "service": "web", "env": "test"},
    ]


def test_the_feed_is_the_admins_only(
    client: TestClient, admin: dict[str, str], alpha: dict[str, str], deployed: str
) -> None:
    assert client.get(f"{API}/endpoints", headers=alpha).status_code == 403
    assert client.get(f"{API}/endpoints", params={"watch": 1}).status_code == 401


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def addresses(snapshot: Snapshot, env: Environment = TEST) -> list[str]:
    return [e.address for e in snapshot.routes[("alpha", "web", env)].endpoints]


@contextlib.asynccontextmanager
async def following(feed: Feed) -> AsyncIterator[AsyncIterator[Snapshot]]:
    snapshots = feed.follow()
    try:
        yield snapshots
    finally:
        await snapshots.aclose()  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
async def test_the_feed_keeps_its_last_snapshot_while_the_server_is_away(
    deps: ApiDeps,
    admin: dict[str, str],
    deployed: str,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    token = admin["Authorization"].removeprefix("Bearer ")
    feed = Feed(f"http://127.0.0.1:{port}", token, backoff=Backoff(first_s=0.05, most_s=0.2))
    caplog.set_level(logging.INFO, logger="dockyard.discovery.feed")
    async with following(feed) as snapshots:
        with serve(build_api(deps), port=port, graceful_s=0):
            first = await asyncio.wait_for(anext(snapshots), 10)
            assert addresses(first) == ["10.1.0.2"] and first.callers["10.1.0.3"][2] is TEST
            write(db, "test", inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3"))
            second = await asyncio.wait_for(anext(snapshots), 5)
            assert addresses(second) == ["10.1.0.2", "10.1.0.3"]
        # The server is gone: the feed says so and yields nothing (its caller keeps `second`).
        write(db, "test")
        write(db, "stable", inst("s1", "10.2.0.2"))
        pending = asyncio.ensure_future(anext(snapshots))
        done, _ = await asyncio.wait({pending}, timeout=1.0)
        assert not done and not feed.connected
        assert "endpoint feed lost" in caplog.text
        with serve(build_api(deps), port=port, graceful_s=0):
            third = await asyncio.wait_for(pending, 10)
    assert (addresses(third), addresses(third, Environment.STABLE)) == ([], ["10.2.0.2"])
    assert "10.1.0.2" not in third.callers


@pytest.mark.timeout(30)
async def test_one_poller_serves_every_follower_and_stops_with_the_last(
    client: TestClient, admin: dict[str, str], deployed: str, db: Database
) -> None:
    make_team(client, admin, "beta")
    watch = SnapshotWatch(db, interval_s=0.01)
    followers = [watch.follow(since=None) for _ in range(3)]
    firsts = [await asyncio.wait_for(anext(f), 5) for f in followers]
    assert len({s.version for s in firsts}) == 1 and watch.polling
    write(db, "stable", inst("s1", "10.2.0.2"))
    changed = [await asyncio.wait_for(anext(f), 5) for f in followers]
    assert {tuple(addresses(s, Environment.STABLE)) for s in changed} == {("10.2.0.2",)}
    for follower in followers:
        await follower.aclose()
    await asyncio.wait_for(_stopped(watch), 5)


async def _stopped(watch: SnapshotWatch) -> None:
    # The watch offers nothing to await for this; the caller bounds the loop with wait_for.
    while watch.polling:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
