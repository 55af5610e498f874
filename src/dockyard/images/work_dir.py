"""The builder's work directory, and its sweep.

    repos/SERVICE_ID.git        the mirror of a service's repository (and SERVICE_ID.lock)
    contexts/BUILD_ID.tar       a running build's context (removed when the build ends), and
                                BUILD_ID.tar.add/, .tar.kept while it is being made
    contexts/kept/SERVICE_ID-KEY.tar   the service's newest context (context_cache)

Mirrors and kept contexts are caches of a service: once it is deleted nothing reads them
again, and the sweep removes them (a mirror only when no build holds its lock). A build's own
context outlives it only if its server died mid-build: the sweep removes those older than the
build timeout, which no running build's context can be.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_MIRROR = re.compile(r"^(\d+)\.git$")
_KEPT = re.compile(r"^(\d+)-[0-9a-f]+\.tar$")
_CONTEXT = re.compile(r"^\d+\.tar(?:\.add|\.kept)?$")  # and what making one leaves meanwhile


@dataclass(frozen=True)
class WorkDir:
    root: Path

    def mirror(self, service_id: int) -> Path:
        return self.root / "repos" / f"{service_id}.git"

    def context(self, build_id: int) -> Path:
        return self.root / "contexts" / f"{build_id}.tar"

    @property
    def kept(self) -> Path:
        return self.root / "contexts" / "kept"

    def service_ids(self) -> set[int]:
        """The services that have a mirror or a kept context here."""
        found = {int(m.group(1)) for m in _matches(self.root / "repos", _MIRROR)}
        return found | {int(m.group(1)) for m in _matches(self.kept, _KEPT)}

    def sweep(self, *, live: Collection[int], max_age_s: float, now: float | None = None) -> int:
        """Remove what belongs to services not in `live`, and build contexts older than
        `max_age_s`; how many things were removed."""
        removed = 0
        for match in _matches(self.kept, _KEPT):
            if int(match.group(1)) not in live:
                (self.kept / match.string).unlink(missing_ok=True)
                removed += 1
        for match in _matches(self.root / "repos", _MIRROR):
            if int(match.group(1)) not in live:
                removed += _remove_mirror(self.root / "repos" / match.string)
        oldest = (time.time() if now is None else now) - max_age_s
        for match in _matches(self.root / "contexts", _CONTEXT):
            path = self.root / "contexts" / match.string
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < oldest:
                    _remove(path)
                    removed += 1
        return removed


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def _matches(directory: Path, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    try:
        names = sorted(p.name for p in directory.iterdir())
    except FileNotFoundError:
        return []
    return [match for name in names if (match := pattern.match(name))]


def _remove_mirror(mirror: Path) -> int:
    """Remove `mirror` unless a build holds its lock (Mirror.locked); 1 if it was removed."""
    lock_path = mirror.with_suffix(".lock")
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        shutil.rmtree(mirror, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
    return 1
