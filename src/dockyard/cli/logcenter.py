"""The log center's consumers on this host: `dockyard indexer`, `archiver` and `drainer`, which
`dockyard up` runs as programs of this host's supervisor (after nats-server and the server,
before the agent), `down` stops and `status` asks.

None has a port to ask: each writes <state>/run/NAME.ready with its PID once it reached the
stream, and `up` waits for that file to name the live program.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from dockyard.cli.processes import Managed, is_alive, read_cmdline
from dockyard.cli.supervision import supervise
from dockyard.cli.supervisor import Program
from dockyard.settings import Settings

CONSUMERS = ("indexer", "archiver", "drainer")
CONSUMER_START_S = 30.0
CONSUMER_STOP_S = 70.0
"""The archiver writes what it holds before it exits: up to a few objects."""


def consumer_process(settings: Settings, name: str) -> Managed:
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    return Managed(
        name=name,
        argv=(sys.executable, "-m", "dockyard.cli", name),
        pid_file=run / f"{name}.pid",
        log_file=logs / f"{name}.log",
    )


def ready_file(settings: Settings, name: str) -> Path:
    return settings.paths.run_dir / f"{name}.ready"


def consumer_ready(settings: Settings, name: str) -> bool:
    """True if the program `name` runs and has said it reached the stream."""
    try:
        pid = int(ready_file(settings, name).read_text().strip())
    except (OSError, ValueError):
        return False
    cmdline = read_cmdline(pid)
    return (
        is_alive(pid) and cmdline is not None and consumer_process(settings, name).matches(cmdline)
    )


def ensure_consumers(settings: Settings, *, env: dict[str, str], base: dict[str, str]) -> list[str]:
    """Make sure the indexer, the archiver and the drainer run; one line per consumer."""
    lines = []
    for name in CONSUMERS:
        process = consumer_process(settings, name)
        done = supervise(
            settings,
            Program(process, stop_s=CONSUMER_STOP_S, environment=base),
            env=env,
            answers=functools.partial(consumer_ready, settings, name),
            timeout_s=CONSUMER_START_S,
            failure=f"the {name} did not reach the log stream (see {process.log_file})",
        )
        lines.append(f"{name}: {done.describe()}, log {process.log_file}")
    return lines
