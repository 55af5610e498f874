"""A filesystem of its own for a state directory, small enough for a test to fill: a tmpfs
mounted over a directory (root only), filled by one file and freed by removing it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHUNK = b"\0" * (1 << 16)


class SmallDisk:
    """A mounted tmpfs at `root`; `fill()` leaves no byte free, `free()` gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        self._append()
        assert self.free_bytes() == 0, f"{self.root} still has {self.free_bytes()} bytes free"

    def _append(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (_CHUNK, b"\0"):  # then byte by byte, so no block is left over
                with contextlib.suppress(OSError):  # ENOSPC
                    while os.write(fd, chunk):
                        pass
        finally:
            os.close(fd)

    def keep_full(self, seconds: float) -> None:
        """For `seconds`, fill again whatever the processes on the disk free (a process that
        starts may delete what an earlier run of it left, e.g. preallocated files)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.free_bytes():
                self._append()
            time.sleep(0.1)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free


@contextlib.contextmanager
def small_disk(root: Path, *, size_mb: int) -> Iterator[SmallDisk]:
    """Mount a tmpfs of `size_mb` at `root` (created), skipping the test where mounting is
    refused; unmounted afterwards whatever happened (lazily, if a process still holds it)."""
    if os.geteuid() != 0:
        pytest.skip(f"mounting a tmpfs needs root; this test runs as uid {os.geteuid()}")
    root.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield SmallDisk(root)
    finally:
        if subprocess.run(["umount", str(root)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(root)], check=True)
