"""The builder's work directory sweep: deleted services' caches and dead builds' contexts go,
everything a live service or a running build uses stays."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dockyard.images.work_dir import WorkDir


def _file(path: Path, *, age_s: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    when = path.stat().st_mtime - age_s
    os.utime(path, (when, when))
    return path


def _mirror(work: WorkDir, service_id: int) -> Path:
    mirror = work.mirror(service_id)
    _file(mirror / "HEAD")
    _file(mirror.with_suffix(".lock"))
    return mirror


def test_deleted_services_lose_their_mirror_and_kept_context(tmp_path: Path) -> None:
    work = WorkDir(tmp_path)
    for service_id in (1, 2, 3):
        _mirror(work, service_id)
    _file(work.kept / "2-abc123.tar")
    _file(work.kept / "4-def456.tar")
    _file(work.root / "repos" / "notes.txt")  # not Dockyard's: never touched
    assert work.service_ids() == {1, 2, 3, 4}
    assert work.sweep(live={1, 2}, max_age_s=60) == 2  # mirror 3 (with its lock), kept 4
    assert sorted(p.name for p in (tmp_path / "repos").iterdir()) == [
        "1.git", "1.lock", "2.git", "2.lock", "notes.txt",
    ]  # fmt: skip
    assert [p.name for p in work.kept.iterdir()] == ["2-abc123.tar"]
    assert work.service_ids() == {1, 2}


def test_a_mirror_a_build_holds_stays(tmp_path: Path) -> None:
    work = WorkDir(tmp_path)
    mirror = _mirror(work, 5)
    with open(mirror.with_suffix(".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert work.sweep(live=set(), max_age_s=60) == 0
        assert (mirror / "HEAD").exists()
    assert work.sweep(live=set(), max_age_s=60) == 1
    assert not mirror.exists() and not mirror.with_suffix(".lock").exists()


def test_only_contexts_older_than_any_build_can_run_go(tmp_path: Path) -> None:
    work = WorkDir(tmp_path)
    running = _file(work.context(10), age_s=30)
    dead = _file(work.context(9), age_s=120)
    half_made = _file(work.root / "contexts" / "8.tar.add" / ".dockyard.Dockerfile")
    os.utime(half_made.parent, (0, 0))
    assert work.sweep(live=set(), max_age_s=60) == 2
    assert running.exists() and not dead.exists() and not half_made.parent.exists()


def test_an_empty_work_directory_is_fine(tmp_path: Path) -> None:
    work = WorkDir(tmp_path / "nothing-yet")
    assert work.service_ids() == set()
    assert work.sweep(live=set(), max_age_s=60) == 0
