"""Orphan collection: labelled containers nobody wants go, only after the grace period."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dockyard.controller.finalizer import LogsFinalizer
from dockyard.controller.orphans import OrphanCollector
from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec, Owner, Platform, RunState
from dockyard.domain.spec import ServiceSpec
from dockyard.runtimes.base import Runtime

from .conftest import Harness


async def start(
    harness: Harness, *, service: str, env: Environment, runtime: Runtime | None = None
) -> None:
    await (runtime or harness.runtime).start(
        InstanceSpec(
            team="pay",
            service=service,
            env=env,
            revision=1,
            instance_id=InstanceId(f"{service}-{env.value}"),
            spec=ServiceSpec(image="img/x:1"),
        )
    )


async def test_orphans_are_removed_after_grace_and_wanted_ones_kept(harness: Harness) -> None:
    harness.deploy(replicas=1)
    await harness.settle()
    await start(harness, service="gone", env=Environment.TEST)  # no such service
    await start(harness, service="web", env=Environment.ONLINE)  # never deployed there
    collector = OrphanCollector(harness.db, harness.runtime, clock=harness.clock, grace_s=30)
    assert await collector.collect() == []
    harness.clock.advance(29)
    assert await collector.collect() == []
    harness.clock.advance(2)
    removed = await collector.collect()
    assert {o.instance_id for o in removed} == {"gone-test", "web-online"}
    left = await harness.runtime.list(Owner(team="pay"))
    assert [(o.service, o.env) for o in left] == [("web", Environment.TEST)]


async def test_dry_run_removes_nothing(harness: Harness) -> None:
    await start(harness, service="gone", env=Environment.TEST)
    collector = OrphanCollector(
        harness.db, harness.runtime, clock=harness.clock, grace_s=0, dry_run=True
    )
    assert len(await collector.collect()) == 1
    assert len(await harness.runtime.list(Owner())) == 1


async def test_another_platforms_orphans_and_unlabelled_containers_are_left_alone(
    harness: Harness,
) -> None:
    ours = harness.runtime.beside(Platform("ours", adopts_unlabelled=True))
    theirs = harness.runtime.beside(Platform("theirs"))
    await start(harness, service="gone", env=Environment.TEST, runtime=ours)
    await start(harness, service="theirs", env=Environment.TEST, runtime=theirs)
    await start(harness, service="old", env=Environment.TEST)  # no platform label
    collector = OrphanCollector(harness.db, ours, clock=harness.clock, grace_s=0)

    removed = await collector.collect()

    assert [o.instance_id for o in removed] == ["gone-test"]
    left = await harness.runtime.list(Owner(team="pay"))
    assert {o.service for o in left} == {"theirs", "old"}
    assert [(o.service, o.adopted) for o in await ours.list(Owner())] == [("old", True)]


async def test_a_running_orphan_is_stopped_and_kept_until_its_logs_are_shipped(
    harness: Harness,
) -> None:
    await start(harness, service="gone", env=Environment.TEST)
    shipped: set[str] = set()
    asked: list[str] = []

    def logs_shipped(instance: str) -> bool:
        asked.append(instance)
        return instance in shipped

    collector = OrphanCollector(
        harness.db,
        harness.runtime,
        clock=harness.clock,
        grace_s=0,
        finalizer=LogsFinalizer(logs_shipped, wait_s=5.0, poll_s=0.01),
    )

    async def ship_soon() -> None:
        await asyncio.sleep(0.05)
        (stopped,) = await harness.runtime.list(Owner(team="pay"))
        assert stopped.state is RunState.EXITED  # stopped before the wait, still present
        shipped.add("gone-test")

    removed, _ = await asyncio.gather(collector.collect(), ship_soon())
    assert [o.instance_id for o in removed] == ["gone-test"]
    assert asked[-1] == "gone-test" and len(asked) > 1
    assert await harness.runtime.list(Owner(team="pay")) == []


async def test_an_orphan_whose_logs_never_ship_goes_after_the_bounded_wait(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await start(harness, service="gone", env=Environment.TEST)
    collector = OrphanCollector(
        harness.db,
        harness.runtime,
        clock=harness.clock,
        grace_s=0,
        finalizer=LogsFinalizer(lambda _: False, wait_s=0.05, poll_s=0.01),
    )
    with caplog.at_level(logging.WARNING, logger="dockyard.controller.orphans"):
        assert len(await collector.collect()) == 1
    assert await harness.runtime.list(Owner(team="pay")) == []
    assert "before the agent shipped its last log lines" in caplog.text
    assert "instance=gone-test" in caplog.text
