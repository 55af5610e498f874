"""Checkpoints on disk: written whole or not at all, read back, listed by source key; shipped
markers per instance."""

from __future__ import annotations

from pathlib import Path

from dockyard.logs.checkpoint import Checkpoint, CheckpointStore

KEY = "team/svc/test/i1//app/logs/app.log"  # a declared file's key holds slashes


def test_saved_checkpoint_is_read_back(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp")
    checkpoint = Checkpoint(inode=7, offset=120, seq=3, size=500, head_len=4, head_sha="ab")
    store.save(KEY, checkpoint)
    assert store.load(KEY) == checkpoint
    assert store.keys() == [KEY]
    assert [p.name for p in (tmp_path / "cp").iterdir() if p.name.startswith(".tmp")] == []


def test_a_second_save_replaces_the_first(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save(KEY, Checkpoint(1, 10, 1))
    store.save(KEY, Checkpoint(1, 20, 2))
    assert store.load(KEY) == Checkpoint(1, 20, 2)


def test_missing_or_unreadable_checkpoint_means_start_again(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert store.load(KEY) is None
    store.save(KEY, Checkpoint(1, 10, 1))
    next(tmp_path.glob("*.json")).write_text("{not json")
    assert store.load(KEY) is None


def test_shipped_marker_is_set_and_cleared(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert not store.shipped("i1")
    store.mark_shipped("i1", {"seq": 5})
    assert store.shipped("i1") and store.keys() == []
    store.unmark_shipped("i1")
    assert not store.shipped("i1")
