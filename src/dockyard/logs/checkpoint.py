"""Where the agent keeps each source's place on disk: the file (inode and the digest of its first
bytes, so a new file that got a freed inode number is not taken for it), the offset just past
the last line the stream stored, and that line's number.

A checkpoint is written only after LogStream.publish returned for the lines up to its offset,
atomically (a temporary file, fsync, rename): after a crash the file holds the old place or the
new one, never a mix. A restarted agent re-reads from there, under the same numbers.

Beside the checkpoints, a marker per instance says its console log and declared files were
shipped to the end of their files (`shipped/`), for the controller to wait on before it removes
the container (and, with it, its log directory).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from dockyard.domain.errors import Unavailable

HEAD_BYTES = 1024  # how much of a file's start identifies it


@dataclass(frozen=True)
class Checkpoint:
    """A source's place: resume reading file `inode` at `offset`; the line before it is `seq`."""

    inode: int
    offset: int
    seq: int
    size: int = 0
    """The file's size when the checkpoint was written: if the file is gone on restart, at least
    `size - offset` bytes of it were never read."""
    head_len: int = 0
    head_sha: str = ""
    """sha256 of the file's first `head_len` bytes (up to HEAD_BYTES)."""


class CheckpointStore:
    """Checkpoints and shipped markers under one directory, one file per source."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._shipped = directory / "shipped"
        self._beat = directory / "agent.beat"

    def load(self, key: str) -> Checkpoint | None:
        """The checkpoint of source `key`, or None if it has none (or an unreadable one, which a
        crash cannot make, since writes are atomic: the source then starts again)."""
        try:
            body = json.loads(self._path(key).read_text())
            return Checkpoint(**body)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return None

    def save(self, key: str, checkpoint: Checkpoint) -> None:
        """Write atomically; Unavailable if the disk refuses (the caller retries later)."""
        _write_atomically(self._path(key), json.dumps(asdict(checkpoint)).encode())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        """The sources that have a checkpoint."""
        if not self._dir.is_dir():
            return []
        return sorted(unquote(p.name[: -len(".json")]) for p in self._dir.glob("*.json"))

    def mark_shipped(self, instance: str, detail: dict[str, object]) -> None:
        """Say that `instance`'s sources were all shipped to their end (`detail` says how far)."""
        _write_atomically(self._shipped / quote(instance, safe=""), json.dumps(detail).encode())

    def unmark_shipped(self, instance: str) -> None:
        (self._shipped / quote(instance, safe="")).unlink(missing_ok=True)

    def shipped(self, instance: str) -> bool:
        return (self._shipped / quote(instance, safe="")).is_file()

    def marked(self) -> list[str]:
        """The instances with a shipped mark."""
        if not self._shipped.is_dir():
            return []
        names = (p.name for p in self._shipped.iterdir() if not p.name.startswith(".tmp-"))
        return sorted(unquote(name) for name in names)

    def beat(self) -> None:
        """Say that the agent's log part is running now (the file's time). Unavailable if the
        disk refuses."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._beat.touch()
        except OSError as exc:
            raise Unavailable(f"cannot write {self._beat}: {exc.strerror or exc}") from exc

    def beat_age(self, now: float) -> float | None:
        """Seconds since the agent's log part last said it runs (None: never, here)."""
        try:
            return now - self._beat.stat().st_mtime
        except OSError:
            return None

    def _path(self, key: str) -> Path:
        return self._dir / (quote(key, safe="") + ".json")


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
            # The rename itself is durable only once the directory is synced.
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise Unavailable(
            f"cannot write {path}: {exc}; check the disk and its permissions"
        ) from exc
