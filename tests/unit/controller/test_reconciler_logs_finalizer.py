"""The logs finalizer: a stopped instance's container is removed only once the agent shipped
its console log to the end (Docker deletes the file with the container), or after a bounded
wait that an event reports as possible loss."""

from __future__ import annotations

import asyncio

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.environment import Environment
from dockyard.domain.spec import DEFAULT_DRAIN_S
from dockyard.store import environments

from .conftest import ADMIN, Harness

FAST = ControllerSettings(
    progress_deadline_s=60,
    first_ready_window_s=0,
    logs_shipped_wait_s=0.3,
    logs_shipped_poll_s=0.01,
)


def with_finalizer(
    harness: Harness, shipped: set[str], asked: list[str], *, agent: bool | None = None
) -> None:
    def logs_shipped(instance: str) -> bool:
        asked.append(instance)
        return instance in shipped

    harness.reconciler = Reconciler(
        harness.db,
        harness.runtime,
        clock=harness.clock,
        settings=SLOW if agent is False else FAST,
        logs_shipped=logs_shipped,
        agent_runs=None if agent is None else (lambda: agent),
    )


SLOW = ControllerSettings(
    progress_deadline_s=60,
    first_ready_window_s=0,
    logs_shipped_wait_s=30,  # a wait would show as a test this slow
    logs_shipped_poll_s=0.01,
)


def event_kinds(harness: Harness) -> list[str]:
    with harness.db.session() as s:
        found = environments.events(s, ADMIN, team="pay", service="web", env=Environment.TEST)
    return [e.kind for e in found]


async def scale_in_to_one(harness: Harness) -> set[str]:
    harness.deploy(replicas=3)
    await harness.settle()
    before = harness.ready_ids()
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    harness.clock.advance(DEFAULT_DRAIN_S)
    await harness.reconciler.reconcile(harness.key)
    return before - harness.ready_ids()


async def test_removal_waits_for_the_agent_to_ship_the_last_lines(harness: Harness) -> None:
    asked: list[str] = []
    shipped: set[str] = set()
    with_finalizer(harness, shipped, asked)
    harness.deploy(replicas=3)
    await harness.settle()
    shipped.update(harness.ready_ids())  # the agent read every file to its end
    harness.scale(1)
    await harness.reconciler.reconcile(harness.key)
    harness.clock.advance(DEFAULT_DRAIN_S)
    await harness.reconciler.reconcile(harness.key)
    assert harness.runtime.destroys == 2
    assert len(set(asked)) == 2
    assert "logs_incomplete" not in event_kinds(harness)


async def test_an_agent_that_never_ships_delays_removal_a_bounded_time_and_says_so(
    harness: Harness,
) -> None:
    with_finalizer(harness, set(), [])
    removed = await scale_in_to_one(harness)
    assert len(removed) == 2 and harness.runtime.destroys == 2
    assert event_kinds(harness).count("logs_incomplete") == 2


async def test_without_a_finalizer_removal_does_not_wait(harness: Harness) -> None:
    await scale_in_to_one(harness)
    assert harness.runtime.destroys == 2 and "logs_incomplete" not in event_kinds(harness)


async def test_without_an_agent_on_the_host_removal_does_not_wait_and_says_why(
    harness: Harness,
) -> None:
    asked: list[str] = []
    with_finalizer(harness, set(), asked, agent=False)
    async with asyncio.timeout(10):  # not the 30 s wait
        removed = await scale_in_to_one(harness)
    assert len(removed) == 2 and harness.runtime.destroys == 2
    with harness.db.session() as s:
        found = environments.events(s, ADMIN, team="pay", service="web", env=Environment.TEST)
    incomplete = [e.message for e in found if e.kind == "logs_incomplete"]
    assert len(incomplete) == 2 and all("no log agent runs" in m for m in incomplete)


async def test_without_an_agent_an_instance_already_shipped_counts_as_shipped(
    harness: Harness,
) -> None:
    shipped: set[str] = set()
    with_finalizer(harness, shipped, [], agent=False)
    harness.deploy(replicas=3)
    await harness.settle()
    shipped.update(harness.ready_ids())
    await scale_in_to_one(harness)
    assert "logs_incomplete" not in event_kinds(harness)
