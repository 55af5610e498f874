"""The agent's beat: the controller waits for shipped marks only while an agent runs."""

from __future__ import annotations

import time
from pathlib import Path

from dockyard.logs.checkpoint import CheckpointStore


def test_no_beat_means_no_agent_ever_ran_here(tmp_path: Path) -> None:
    assert CheckpointStore(tmp_path / "cp").beat_age(time.time()) is None


def test_a_beat_ages_from_its_time_and_is_no_checkpoint(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp")
    store.beat()
    now = time.time()
    age = store.beat_age(now + 60)
    assert age is not None and 59 <= age <= 61
    assert store.keys() == [] and store.marked() == []
