"""Following one path through its rotations, by open file descriptors.

A file is read through a descriptor the tail keeps open until it has read the file to its end
and a newer generation exists, so a file renamed or even deleted meanwhile is still read to its
last byte. At each end of the newest file the tail lists the path's generations again
(logs/rotation.py): newer ones are opened at once, in order; a file now shorter than what was
read of it (copy-truncate) is read again from 0. What could not be read any more is recorded in
`lost`, for the reader to count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dockyard.logs.checkpoint import HEAD_BYTES, Checkpoint
from dockyard.logs.rotation import Generation, Lost, head_sha, newer, resume

COMPRESSED = (".gz", ".zst", ".bz2", ".xz", ".zip")
LISTING_TRIES = 4


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes read from file `inode`, starting at file offset `start`."""

    inode: int
    start: int
    data: bytes


@dataclass
class _Open:
    fd: int
    inode: int
    offset: int
    path: str


class Tail:
    """Reads one path's lines through its rotations; not thread-safe (one reader per path)."""

    def __init__(self, path: Path, *, rotate_bytes: int = 0) -> None:
        """`rotate_bytes`: the size at which the path's writer rotates it, if known (Docker's
        max-size), to say how much a file rotated away unread held."""
        self.path = path
        self._rotate_bytes = rotate_bytes
        self.lost: list[Lost] = []
        self.truncations = 0
        self._files: list[_Open] = []  # oldest first; the first is being read
        self._heads: dict[int, bytes] = {}
        self._pending: Checkpoint | None = None  # where to start once files can be opened

    def open(self, at: Checkpoint | None) -> None:
        """Start at checkpoint `at` (None: at the start of the oldest generation present)."""
        self._pending = at
        for _ in range(LISTING_TRIES):
            plan = resume(generations(self.path, heads=True), at, rotate_bytes=self._rotate_bytes)
            if self._open_planned(plan.files, plan.offset):
                break
            # A rename came between listing and opening: list again.
        else:
            return  # still rotating: the next read tries again from `at`
        self._pending = None
        if plan.lost is not None:
            self.lost.append(plan.lost)

    def _open_planned(self, files: tuple[Generation, ...], offset: int) -> bool:
        """Open `files` as listed; False (nothing left open) if one is not the file listed."""
        opened: list[_Open] = []
        for index, generation in enumerate(files):
            try:
                fd = os.open(generation.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = -1
            if fd < 0 or os.fstat(fd).st_ino != generation.inode:
                for one in opened:
                    os.close(one.fd)
                if fd >= 0:
                    os.close(fd)
                return False
            opened.append(_Open(fd, generation.inode, offset if index == 0 else 0, generation.path))
        self._files.extend(opened)
        return True

    @property
    def opened(self) -> bool:
        """True once a file of the path was found and opened."""
        return bool(self._files)

    def position(self) -> tuple[int, int]:
        """(inode, offset) of the next byte to read; (0, 0) before any file was opened."""
        if not self._files:
            return 0, 0
        return self._files[0].inode, self._files[0].offset

    def read(self, max_bytes: int) -> Chunk | None:
        """The next bytes, up to `max_bytes`; None when every generation is read to its end."""
        if not self._files:
            self.open(self._pending)
            if not self._files:
                return None
        if len(self._files) == 1:
            # Hold newer generations open as soon as they exist, not only once the current one
            # is read to its end: a rotation may delete them before that.
            self._discover(self._files[0])
        while True:
            current = self._files[0]
            data = os.pread(current.fd, max_bytes, current.offset)
            if data:
                chunk = Chunk(current.inode, current.offset, data)
                current.offset += len(data)
                return chunk
            if len(self._files) > 1:
                self._close(self._files.pop(0))
                continue
            if self._discover(current):
                continue  # read what the old file got before it was renamed, then the new
            if os.fstat(current.fd).st_size < current.offset:
                self.truncations += 1
                current.offset = 0
                continue
            return None

    def checkpoint(self, inode: int, offset: int, seq: int) -> Checkpoint:
        """A checkpoint for resuming at `offset` of file `inode` after line `seq`."""
        head = self._head(inode)
        size = next((os.fstat(f.fd).st_size for f in self._files if f.inode == inode), offset)
        return Checkpoint(inode, offset, seq, max(size, offset), len(head), head_sha(head))

    def close(self) -> None:
        for opened in self._files:
            self._close(opened)
        self._files = []

    def _discover(self, current: _Open) -> bool:
        """Open generations newer than the current file; True if any.

        Docker renames files while they are listed, so a listing may be inconsistent (a name
        read before a rename, the next after it): a listing that lacks the current file, or
        whose files cannot all be opened, is taken again, a few times, before it is believed.
        """
        for _ in range(LISTING_TRIES):
            found, listed = newer(generations(self.path, heads=False), current.inode)
            if not listed and found:
                continue
            opened = self._open_all(found)
            if opened is not None:
                return bool(opened)
        if listed or not found:
            return False
        self.lost.append(
            Lost(
                f"{current.path} was rotated away while being read: files rotated between "
                "it and the oldest one present may be lost"
            )
        )
        return bool(self._open_all(found))

    def _open_all(self, found: tuple[Generation, ...]) -> list[_Open] | None:
        """Open `found` in order, leaving out files already read; None (nothing left open) if
        one of them was renamed away meanwhile."""
        opened: list[_Open] = []
        for generation in found:
            try:
                fd = os.open(generation.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                for one in opened:
                    os.close(one.fd)
                return None
            if self._already_read(fd):
                os.close(fd)
                continue
            opened.append(_Open(fd, os.fstat(fd).st_ino, 0, generation.path))
        self._files.extend(opened)
        return opened

    def _already_read(self, fd: int) -> bool:
        """True if `fd` is a file this tail holds open or read to its end before."""
        inode = os.fstat(fd).st_ino
        if any(f.inode == inode for f in self._files):
            return True
        head = self._heads.get(inode)
        return head is not None and os.pread(fd, len(head), 0) == head

    def _head(self, inode: int) -> bytes:
        opened = next((f for f in self._files if f.inode == inode), None)
        if opened is not None:
            head = os.pread(opened.fd, HEAD_BYTES, 0)
            self._heads[inode] = head
            return head
        return self._heads.get(inode, b"")

    def _close(self, opened: _Open) -> None:
        self._heads[opened.inode] = os.pread(opened.fd, HEAD_BYTES, 0)
        if len(self._heads) > 8:  # only recent files can be named by a checkpoint
            del self._heads[next(iter(self._heads))]
        os.close(opened.fd)


def generations(path: Path, *, heads: bool) -> list[Generation]:
    """The path's files, oldest first: rotated siblings (`NAME.1`, `NAME.2`, ... as Docker names
    them, or any `NAME.*` / `NAME-*`) by last write, then the path itself. With `heads`, each
    carries its first bytes. Files vanishing while listed are left out."""
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found: list[tuple[tuple[int, int, int], Generation]] = []
    for name in names:
        rotated = name.startswith((path.name + ".", path.name + "-"))
        if (name != path.name and not rotated) or name.endswith(COMPRESSED):
            continue  # compressed copies hold the same lines, in a form a tail cannot read
        full = path.parent / name
        try:
            stat = full.stat()
            head = _head_of(full) if heads else b""
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            continue
        suffix = name[len(path.name) + 1 :]
        number = int(suffix) if suffix.isdigit() else 0
        # Oldest first: rotated files by last write (Docker's .2 before .1), the path last.
        key = (1, 0, 0) if name == path.name else (0, stat.st_mtime_ns, -number)
        found.append((key, Generation(str(full), stat.st_ino, stat.st_size, head)))
    found.sort(key=lambda item: item[0])
    return [generation for _, generation in found]


def _head_of(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)
