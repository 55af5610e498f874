"""What a dockerd of the platform's own (DOCKYARD_DOCKERD_ROOT) leaves behind once stopped, and
its removal, so a test that ran one leaves the machine as it found it.

dockerd bind-mounts its data root onto itself (to make it a private mount) and leaves that mount
when it exits; and after a `kill -9` of dockerd, a containerd shim or two with no container left
under them outlive every later engine under that root (seen here: 1-2 per kill).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from dockyard.network.bridge import own_bridge, remove_bridge

SHIM = "containerd-shim"
END_S = 10.0


def clean_own_engine(root: Path) -> None:
    """End the shims of the engine under `root`, unmount what it left mounted under it and
    remove its bridge. Call once its dockerd has stopped."""
    for pid in shims_of(root):
        _kill(pid)
    for mount_point in sorted(mounts_under(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)
    remove_bridge(own_bridge(root)[0])


def shims_of(root: Path) -> list[int]:
    """PIDs of containerd shims talking to a containerd under `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if argv and SHIM in os.fsdecode(argv[0]) and any(str(root) in os.fsdecode(a) for a in argv):
            found.append(int(entry.name))
    return found


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root` (from /proc/self/mountinfo)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(root) or point.startswith(f"{root}/"):
            points.append(point)
    return points


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + END_S
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
