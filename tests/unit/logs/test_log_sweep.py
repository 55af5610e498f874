"""The sweep of log leftovers (agent/log_sweep.py): an instance's declared-file directory,
shipped mark and checkpoints go once it had no container and no followed source for the grace
period, without a break; a checkpoint left then is counted lost unless it was shipped."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path
from typing import cast

import pytest

from dockyard.agent.log_sweep import LogLeftovers, instance_of, sweep
from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.shipper import Shipper
from dockyard.logs.stream import LogStream

GRACE = 60.0


@pytest.mark.parametrize(
    ("leftovers", "present", "since", "now", "remove", "waiting"),
    [
        # first seen absent: the clock starts, nothing goes
        ({"a"}, set(), {}, 100.0, (), {"a": 100.0}),
        # absent for less than the grace: kept, its start kept
        ({"a"}, set(), {"a": 50.0}, 100.0, (), {"a": 50.0}),
        # absent for the grace: goes, and is no longer tracked
        ({"a"}, set(), {"a": 40.0}, 100.0, ("a",), {}),
        # a container (or a followed source) again: starts over
        ({"a"}, {"a"}, {"a": 0.0}, 100.0, (), {}),
        # only the instances with leftovers are looked at
        ({"a", "b"}, {"b", "c"}, {"a": 0.0, "z": 0.0}, 100.0, ("a",), {}),
    ],
)
def test_leftovers_go_after_the_grace_of_absence(
    leftovers: Collection[str],
    present: Collection[str],
    since: dict[str, float],
    now: float,
    remove: tuple[str, ...],
    waiting: dict[str, float],
) -> None:
    decided = sweep(leftovers, present=present, absent_since=since, now=now, grace_s=GRACE)
    assert (decided.remove, decided.absent_since) == (remove, waiting)


@pytest.mark.parametrize(
    ("key", "instance"),
    [("t/s/test/i1/console", "i1"), ("t/s/test/i1//app/logs/a.log", "i1"), ("odd", "")],
)
def test_instance_of_a_source_key(key: str, instance: str) -> None:
    assert instance_of(key) == instance


def key(instance: str, channel: str = "console") -> str:
    return f"t/s/test/{instance}/{channel}"


async def test_a_pass_removes_the_directory_mark_and_checkpoints_of_a_long_gone_instance(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path / "cp")
    shipper = Shipper(cast(LogStream, MemoryLogStream()), store, max_line_bytes=1024)
    files = tmp_path / "files"
    for instance in ("gone", "shipped", "running"):
        (files / instance / "0").mkdir(parents=True)
        (files / instance / "0" / "app.log").write_text("x\n")
    store.save(key("gone"), Checkpoint(1, 10, 3))  # never shipped to its end: lost
    store.save(key("shipped", "/app/logs/app.log"), Checkpoint(1, 10, 3))
    store.mark_shipped("shipped", {})
    store.save(key("running"), Checkpoint(1, 10, 3))
    (files / "stray-file").write_text("not a directory: not ours to judge")
    leftovers = LogLeftovers(shipper, files, grace_s=GRACE)

    assert await asyncio.to_thread(leftovers.pass_, {"running"}, now=0.0) == ()
    assert await asyncio.to_thread(leftovers.pass_, {"running"}, now=30.0) == ()
    swept = await asyncio.to_thread(leftovers.pass_, {"running"}, now=61.0)

    assert swept == ("gone", "shipped")
    assert sorted(p.name for p in files.iterdir()) == ["running", "stray-file"]
    assert store.keys() == [key("running")]
    assert store.marked() == []
    assert shipper.counters.of(key("gone")).lost == 1
    assert shipper.counters.of(key("shipped", "/app/logs/app.log")).lost == 0


async def test_an_instance_seen_again_waits_the_whole_grace_again(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp")
    shipper = Shipper(cast(LogStream, MemoryLogStream()), store, max_line_bytes=1024)
    store.mark_shipped("i1", {})
    leftovers = LogLeftovers(shipper, None, grace_s=GRACE)
    leftovers.pass_(set(), now=0.0)
    leftovers.pass_({"i1"}, now=50.0)  # its container is listed again (a restart)
    assert leftovers.pass_(set(), now=70.0) == ()
    assert leftovers.pass_(set(), now=130.0) == ("i1",)
    assert store.marked() == []
