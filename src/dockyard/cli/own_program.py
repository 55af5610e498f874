"""Dockyard's own long-running programs that `dockyard up` runs as `python -m dockyard.cli
NAME` (the log center's consumers, the name server, the balancer), and the ready file by which
one with no port to ask tells `up` it reached what it serves: <state>/run/NAME.ready, holding
its PID, written once ready and removed when it exits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dockyard.cli.processes import Managed, is_alive, read_cmdline
from dockyard.settings import Settings


def own_process(settings: Settings, name: str) -> Managed:
    """The program `dockyard NAME`, its PID file and log named for it."""
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(
        name=name,
        argv=(sys.executable, "-m", "dockyard.cli", name),
        pid_file=run / f"{name}.pid",
        log_file=logs / f"{name}.log",
    )


def ready_file(settings: Settings, name: str) -> Path:
    return settings.paths.run_dir / f"{name}.ready"


def say_ready(path: Path) -> None:
    """Write this process's PID to the ready file `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")


def is_ready(settings: Settings, name: str) -> bool:
    """True if the program `name` runs and its ready file names it (not a PID reused by some
    other process, nor a file an earlier one left)."""
    try:
        pid = int(ready_file(settings, name).read_text().strip())
    except (OSError, ValueError):
        return False
    cmdline = read_cmdline(pid)
    return is_alive(pid) and cmdline is not None and own_process(settings, name).matches(cmdline)
