"""The newest build context of each service, kept so that building the same commit again (a
forced rebuild) sends the engine the very same tar without exporting it from git again.

A context is a pure function of the commit, the source's context directory and Dockerfile and
the labels (which name the commit and its time, never the build's): its key is a hash of those,
so a kept context is either exactly right or not found. One per service (the newest), and only
up to `MAX_BYTES`: the cache costs at most one small context per service. Callers hold the
service's mirror lock, so two builds of one service never race for its slot.

A build gets its own hard link to the kept file and removes only that link when it ends, so
replacing the kept context never pulls a file from under a build reading it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from dockyard.domain.source import GitSource

MAX_BYTES = 64 * 1024 * 1024


def context_key(sha: str, source: GitSource, labels: Mapping[str, str]) -> str:
    """What makes a context what it is, hashed. Pure."""
    facts = [sha, source.context, source.dockerfile, sorted(labels.items())]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


class ContextCache:
    """Kept contexts under `root`, one file per service: `SERVICE_ID-KEY.tar`."""

    def __init__(self, root: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self._root = root
        self._max_bytes = max_bytes

    def take(self, service_id: int, key: str, *, into: Path) -> Path | None:
        """`into`, linked to the kept context of `key`, or None if none is kept."""
        into.parent.mkdir(parents=True, exist_ok=True)
        into.unlink(missing_ok=True)  # a crashed build's leftover under the same name
        try:
            os.link(self._slot(service_id, key), into)
        except FileNotFoundError:
            return None
        # Now, as a fresh export would be: the work sweep judges a build's context by its age.
        os.utime(into)
        return into

    def keep(self, service_id: int, key: str, context: Path) -> None:
        """Keep `context` (if small enough) as the service's one kept context."""
        if context.stat().st_size > self._max_bytes:
            return
        self._root.mkdir(parents=True, exist_ok=True)
        slot = self._slot(service_id, key)
        with contextlib.suppress(FileExistsError):  # kept already: the very same context
            os.link(context, slot)
        for older in self._root.glob(f"{service_id}-*.tar"):
            if older != slot:
                older.unlink(missing_ok=True)

    def _slot(self, service_id: int, key: str) -> Path:
        return self._root / f"{service_id}-{key}.tar"
