"""Rotation decisions: where a restarted reader resumes among a path's generations, and what
it counts as lost. Pure: listings in, plans out."""

from __future__ import annotations

import pytest

from dockyard.logs.checkpoint import Checkpoint
from dockyard.logs.rotation import Generation, head_sha, newer, resume

OLD2 = Generation("x.log.2", 12, 1000, b"two")
OLD1 = Generation("x.log.1", 11, 1000, b"one")
NOW = Generation("x.log", 10, 300, b"now")


def at(gen: Generation, offset: int, *, size: int = 0, head: bytes | None = None) -> Checkpoint:
    first = gen.head if head is None else head
    return Checkpoint(gen.inode, offset, 99, size or gen.size, len(first), head_sha(first))


# (name, generations, checkpoint, files opened, start offset, lost bytes or "none"/"unknown")
CASES: list[tuple[str, list[Generation], Checkpoint | None, list[str], int, object]] = [
    ("no checkpoint: every generation from the start", [OLD2, OLD1, NOW], None,
     ["x.log.2", "x.log.1", "x.log"], 0, "none"),
    ("checkpoint in the current file", [OLD1, NOW], at(NOW, 120), ["x.log"], 120, "none"),
    ("checkpoint in a rotated file: it, then the newer ones", [OLD2, OLD1, NOW], at(OLD2, 700),
     ["x.log.2", "x.log.1", "x.log"], 700, "none"),
    ("the file was rotated away: all present from 0, the rest of it lost", [OLD1, NOW],
     at(OLD2, 700, size=1000), ["x.log.1", "x.log"], 0, 300),
    ("the file was gone when read to its end: loss of unknown size", [NOW],
     at(OLD1, 1000, size=1000), ["x.log"], 0, "unknown"),
    ("a new file got the old inode: not the same file", [NOW],
     at(NOW, 100, head=b"old"), ["x.log"], 0, 200),
    ("the file is shorter than the offset: copy-truncated, from 0", [NOW],
     at(NOW, 500, size=500), ["x.log"], 0, "unknown"),
    ("nothing present any more: nothing to open, the rest lost", [],
     at(NOW, 100, size=300), [], 0, 200),
]  # fmt: skip


@pytest.mark.parametrize(
    ("gens", "checkpoint", "files", "offset", "lost"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_resume(
    gens: list[Generation],
    checkpoint: Checkpoint | None,
    files: list[str],
    offset: int,
    lost: object,
) -> None:
    plan = resume(gens, checkpoint)
    assert [g.path for g in plan.files] == files
    assert plan.offset == offset
    if lost == "none":
        assert plan.lost is None
    else:
        assert plan.lost is not None
        assert plan.lost.bytes == (None if lost == "unknown" else lost)


def test_newer_lists_what_came_after_the_file_being_read() -> None:
    assert newer([OLD2, OLD1, NOW], OLD1.inode) == ((NOW,), True)
    assert newer([OLD1, NOW], NOW.inode) == ((), True)
    assert newer([OLD1, NOW], 999) == ((OLD1, NOW), False)


def test_a_file_rotated_away_held_about_the_rotation_size() -> None:
    plan = resume([NOW], at(OLD1, 1000, size=1000), rotate_bytes=4096)
    assert plan.lost is not None and plan.lost.bytes == 3096
