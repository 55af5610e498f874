"""The log center's consumers on this host: `dockyard indexer`, `archiver` and `drainer`, which
`dockyard up` runs as programs of this host's supervisor (after nats-server and the server,
before the agent), `down` stops and `status` asks.

None has a port to ask: each writes its ready file (cli/own_program.py) once it reached the
stream, and `up` waits for that file to name the live program.
"""

from __future__ import annotations

import functools

from dockyard.cli.own_program import is_ready, own_process
from dockyard.cli.supervision import supervise
from dockyard.cli.supervisor import Program
from dockyard.settings import Settings

CONSUMERS = ("indexer", "archiver", "drainer")
CONSUMER_START_S = 30.0
CONSUMER_STOP_S = 70.0
"""The archiver writes what it holds before it exits: up to a few objects."""


def ensure_consumers(settings: Settings, *, env: dict[str, str], base: dict[str, str]) -> list[str]:
    """Make sure the indexer, the archiver and the drainer run; one line per consumer."""
    lines = []
    for name in CONSUMERS:
        process = own_process(settings, name)
        done = supervise(
            settings,
            Program(process, stop_s=CONSUMER_STOP_S, environment=base),
            env=env,
            answers=functools.partial(is_ready, settings, name),
            timeout_s=CONSUMER_START_S,
            failure=f"the {name} did not reach the log stream (see {process.log_file})",
        )
        lines.append(f"{name}: {done.describe()}, log {process.log_file}")
    return lines
