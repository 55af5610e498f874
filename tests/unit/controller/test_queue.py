"""The keyed work queue: dedupe, one worker per key, re-queue after work, timers, back-off."""

from __future__ import annotations

import asyncio

from dockyard.controller.queue import WorkQueue


async def test_a_key_waits_only_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]


async def test_a_key_added_while_processing_is_handed_out_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")  # an event arrives while a worker has "a"
    assert len(queue) == 0, "the same key must not go to a second worker"
    queue.done(key)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_add_after_keeps_the_earliest_timer() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 5)
    queue.add_after("a", 0.01)
    assert await asyncio.wait_for(queue.get(), 1) == "a"


async def test_retry_backs_off_exponentially_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_backoff_s=0.5, max_backoff_s=3)
    delays = [queue.retry("a") for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 3, 3]
    queue.forget("a")
    assert queue.retry("a") == 0.5
    queue.close()
