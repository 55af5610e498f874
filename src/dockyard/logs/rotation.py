"""Rotation decisions, pure: which of a followed file's generations to read, and what was lost.

A followed path rotates by rename: Docker's json-file driver renames `X-json.log` to
`X-json.log.1` (`.1` to `.2` ..., the last deleted) and starts a new `X-json.log`; a declared
file may be renamed to any sibling name. A path may also rotate by copy-truncate (the same file,
cut to size 0). The reader (logs/tail.py) lists the generations present, oldest first, each by
inode and first bytes, and asks here what to open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.logs.checkpoint import Checkpoint


@dataclass(frozen=True)
class Generation:
    """One file of a followed path as listed now: the path itself or a rotated sibling."""

    path: str
    inode: int
    size: int
    head: bytes = b""
    """Its first bytes (up to checkpoint.HEAD_BYTES)."""


@dataclass(frozen=True)
class Lost:
    """Bytes that were never read: what and, when known, at least how many."""

    what: str
    bytes: int | None = None


@dataclass(frozen=True)
class Resume:
    """Open `files` (oldest first) and start at `offset` in the first; `lost` says what could
    not be read any more."""

    files: tuple[Generation, ...]
    offset: int
    lost: Lost | None = None


def head_sha(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def same_file(generation: Generation, at: Checkpoint) -> bool:
    """True if `generation` is the file `at` was written for: same inode, same first bytes."""
    return (
        generation.inode == at.inode
        and len(generation.head) >= at.head_len
        and head_sha(generation.head[: at.head_len]) == at.head_sha
    )


def resume(
    generations: Sequence[Generation], at: Checkpoint | None, *, rotate_bytes: int = 0
) -> Resume:
    """Where to start reading a path whose generations are `generations` (oldest first).

    With no checkpoint every generation is unread: all, from the start. With one whose file is
    present: that file from its offset (from 0 if the file is now shorter: it was truncated, and
    what it held past 0 before is lost), then every newer one. With one whose file is gone (it
    was rotated away and deleted while nobody read it): every generation present, from 0, and
    the loss of the rest of that file: at least its size then less the offset, or, when the
    path rotates at `rotate_bytes` (Docker's max-size), about that less the offset.
    """
    if at is None:
        return Resume(tuple(generations), 0)
    for index, generation in enumerate(generations):
        if same_file(generation, at):
            files = tuple(generations[index:])
            if generation.size >= at.offset:
                return Resume(files, at.offset)
            lost = Lost(f"{generation.path} was truncated below offset {at.offset} unread")
            return Resume(files, 0, lost)
    unread = max(at.size, rotate_bytes) - at.offset
    lost = Lost(
        f"file inode {at.inode} rotated away unread after offset {at.offset}"
        + (f", about {unread} bytes" if unread > 0 else ", its size unknown"),
        unread if unread > 0 else None,
    )
    return Resume(tuple(generations), 0, lost)


def newer(generations: Sequence[Generation], newest: int) -> tuple[tuple[Generation, ...], bool]:
    """The generations newer than the file of inode `newest`, the newest one being read, and
    whether that file is still listed. A file not listed was rotated away (deleted) while being
    read: every generation listed is newer than it, and any between them were lost unseen."""
    for index, generation in enumerate(generations):
        if generation.inode == newest:
            return tuple(generations[index + 1 :]), True
    return tuple(generations), False
