"""The host directories of instances' declared log files: `files_dir/<instance>/<n>`, one per
declared directory (domain/logfiles.py: log_mounts), mounted into the instance by the runtime
and read by the host agent, which ships the files (agent/logs.py).

Made by `start`, kept by `restart` (the same instance), removed by `destroy`, which the
controller calls only once the agent marked the instance shipped to the end.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from dockyard.domain.errors import RuntimeFailure
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.logfiles import log_mounts

# The leaf is writable by every user: the container may run as any uid (an image's USER, often
# not root, and unknown to the host), and must create, rename and truncate its files there.
# Chowning to the image's user would need its uid resolved from the image's /etc/passwd and
# still fail for a process that changes user. Only that leaf is open: its parent (the
# instance's directory) is the host root's alone, so no other host user reaches the files.
LEAF_MODE = 0o777
INSTANCE_MODE = 0o700


@dataclass(frozen=True)
class Made:
    root: Path
    new: bool
    """False when the instance's directory existed already (a start retried, or a name taken)."""


class LogDirs:
    """Per-instance log directories under one host directory."""

    def __init__(self, files_dir: Path) -> None:
        self._dir = files_dir

    def root(self, instance_id: str) -> Path:
        """The instance's own directory; RuntimeFailure for an id that is no plain name."""
        if not instance_id or "/" in instance_id or instance_id in (".", ".."):
            raise RuntimeFailure(f"instance id {instance_id!r} cannot name a directory")
        return self._dir / instance_id

    def make(self, spec: InstanceSpec) -> Made | None:
        """Make the directories `spec` mounts (None if it declares no log files)."""
        if not spec.spec.log_paths:
            return None
        root = self.root(spec.instance_id)
        new = not root.exists()
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            root.mkdir(mode=INSTANCE_MODE, exist_ok=True)
            for host_dir in log_mounts(spec.spec.log_paths, root=str(root)).values():
                Path(host_dir).mkdir(exist_ok=True)
                os.chmod(host_dir, LEAF_MODE)  # mkdir's mode is cut by the umask
        except OSError as exc:
            if new:
                shutil.rmtree(root, ignore_errors=True)
            raise RuntimeFailure(
                f"start {spec.name}: cannot make its log directory under {self._dir}: {exc}; "
                "check DOCKYARD_LOG_FILES_DIR's disk and permissions",
                field="log_paths",
            ) from exc
        return Made(root, new)

    def remove(self, instance_id: str) -> None:
        """Remove the instance's directory and its files; nothing if it has none."""
        try:
            root = self.root(instance_id)
        except RuntimeFailure:
            return
        shutil.rmtree(root, ignore_errors=True)
