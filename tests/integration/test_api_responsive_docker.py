"""The server stays responsive whatever the engine does: with many slow engine calls in flight
(stops that wait out their grace period, as removals do while the IPAM driver is gone), the
API still answers at once and the controllers' database work still runs.

A real dockerd and the server's own app (its API, no lifespan: the slow calls are made here,
as the controllers would make them, through the same runtime).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.controller.manager import Manager
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Observed
from dockyard.domain.spec import ServiceSpec
from dockyard.images.builder import Builder
from dockyard.images.follower import Follower
from dockyard.images.registry import RegistryClient
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.server import Parts, build_app
from dockyard.settings import Settings
from dockyard.store.db import Database
from tests.support.fixtures import TEST_NETWORK

pytestmark = pytest.mark.docker

SLOW_CALLS = 12
"""More than the default executor's threads on a 2-core machine (min(32, cpus + 4) = 6)."""
GRACE_S = 5
QUICK_S = 1.0


@pytest.fixture
async def parts(tmp_path: Path, docker_engine: docker.APIClient) -> AsyncIterator[Parts]:
    settings = Settings.from_env({"HOME": str(tmp_path), "DOCKYARD_STATE_DIR": str(tmp_path)})
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    runtime = DockerRuntime(network=TEST_NETWORK)
    manager = Manager(db, runtime, clock=utcnow, settings=settings.controller)
    registry = RegistryClient(settings.images.registry.url)
    yield Parts(
        db=db, runtime=runtime, manager=manager, clock=utcnow, settings=settings,
        registry=registry,
        builder=Builder(db, settings=settings.images, docker_host=settings.docker.host,
                        clock=utcnow, notify=manager.notify, registry=registry),
        follower=Follower(db, clock=utcnow, notify=manager.notify, interval_s=1),
    )  # fmt: skip
    runtime.close()
    db.close()


async def stubborn(runtime: DockerRuntime, team: str, image: str) -> Observed:
    """An instance that ignores SIGTERM: stopping it takes its whole grace period."""
    spec = ServiceSpec(
        image=image, command=("sh", "-c", "trap '' TERM; while :; do sleep 1; done"),
        stop_grace_s=GRACE_S,
    )  # fmt: skip
    instance = InstanceSpec(
        team=team, service="slow", env=Environment.TEST, revision=1,
        instance_id=new_instance_id(), spec=spec,
    )  # fmt: skip
    return await runtime.start(instance)


async def timed(call: object) -> float:
    start = time.monotonic()
    await call  # type: ignore[misc]
    return time.monotonic() - start


@pytest.mark.timeout(120)
async def test_the_api_answers_at_once_while_many_slow_engine_calls_are_in_flight(
    parts: Parts, docker_team: str, test_image: str
) -> None:
    runtime = parts.runtime
    assert isinstance(runtime, DockerRuntime)
    started = await asyncio.gather(
        *(stubborn(runtime, docker_team, test_image) for _ in range(SLOW_CALLS))
    )
    stops = [asyncio.create_task(runtime.stop(observed, grace_s=GRACE_S)) for observed in started]
    await asyncio.sleep(0.5)  # every stop is waiting on the engine now
    in_flight = sum(not stop.done() for stop in stops)
    transport = httpx.ASGITransport(app=build_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as api:
        health = await timed(api.get("/healthz/parts"))
        report = (await api.get("/healthz/parts")).json()
    database = await timed(asyncio.to_thread(parts.db.ping))  # as the controllers read
    await asyncio.gather(*stops)

    assert in_flight == SLOW_CALLS, "the stops ended before the API was asked"
    assert report["engine"] == "ok"
    assert health < QUICK_S, f"/healthz/parts took {health:.2f} s behind the engine's stops"
    assert database < QUICK_S, f"the database waited {database:.2f} s for a thread"
