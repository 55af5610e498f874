"""nats-server on this host: the log stream `dockyard up` runs, `down` stops and `status` asks.

Debian's nats-server runs as a program of this host's supervisor (cli/supervisor.py), after etcd
and before the server, with JetStream on, its store in <state>/nats, listening on the host and
port of the one loopback URL in DOCKYARD_NATS_URLS (127.0.0.1:4222 by default). It needs no
configuration file: the stream and its consumers are made by whoever uses them first
(logs/jetstream.py). A cluster named in DOCKYARD_NATS_URLS is used as it is, never run here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from urllib.parse import urlsplit

from dockyard.cli.errors import CliError
from dockyard.cli.processes import Managed
from dockyard.cli.supervision import claimed, disown, host_supervisor, supervise
from dockyard.cli.supervisor import Program
from dockyard.domain.errors import Unavailable
from dockyard.logs.jetstream import jetstream_ready
from dockyard.settings import Settings

NATS_BINARY = "/usr/sbin/nats-server"
# Debian installs it in /usr/sbin, which a non-login PATH may lack.
NATS_CANDIDATES = (NATS_BINARY, "/usr/bin/nats-server")
NATS_START_S = 60.0
"""How long `up` waits for a nats-server it started: on a loaded 2-core host one was seen to
take over 30 s to answer (it reads its JetStream store first)."""
NATS_STOP_S = 15.0  # SIGTERM: it flushes the JetStream store before it exits
NATS_PORT = 4222
PROBE_S = 2.0


def find_nats_server() -> str | None:
    found = shutil.which("nats-server")
    return found or next((p for p in NATS_CANDIDATES if os.access(p, os.X_OK)), None)


def nats_process(settings: Settings) -> Managed:
    """nats-server with JetStream for the first URL of the settings, its store in the state dir."""
    run, logs = settings.paths.run_dir, settings.paths.logs_dir
    url = urlsplit(settings.logs.nats_urls[0])
    return Managed(
        name="nats",
        argv=(
            find_nats_server() or NATS_BINARY,
            f"--addr={url.hostname or '127.0.0.1'}",
            f"--port={url.port or NATS_PORT}",
            "--jetstream",
            f"--store_dir={settings.paths.state_dir / 'nats'}",
            "--server_name=dockyard",
        ),
        pid_file=run / "nats.pid",
        log_file=logs / "nats.log",
    )


def nats_answers(url: str) -> bool:
    """True if the NATS server at `url` answers with JetStream ready."""
    return nats_problem(url) is None


def nats_problem(url: str) -> str | None:
    """Why the NATS server at `url` cannot serve the log stream now, or None if it can."""
    try:
        asyncio.run(jetstream_ready(url, timeout_s=PROBE_S))
    except Unavailable as exc:
        return exc.message
    return None


def ensure_nats(settings: Settings, *, env: dict[str, str]) -> str:
    """Make sure the log stream's server answers, running this host's one if up manages it."""
    urls = settings.logs.nats_urls
    process = nats_process(settings)
    supervisor = host_supervisor(settings)
    if not claimed(supervisor, process) and any(nats_answers(url) for url in urls):
        disown(supervisor, process)
        return f"running at {', '.join(urls)} (not started by dockyard up)"
    if not settings.logs.managed:
        raise CliError(
            f"no NATS server with JetStream answers at {', '.join(urls)} (DOCKYARD_NATS_URLS): "
            "start it, or unset DOCKYARD_NATS_URLS (or name one loopback URL) to let "
            "`dockyard up` run this host's nats-server"
        )
    if find_nats_server() is None:
        raise CliError(
            f"no NATS server answers at {urls[0]} and nats-server is not installed: install it "
            "with `apt-get install nats-server` (or run ./run up)"
        )
    done = supervise(
        settings,
        Program(process, stop_s=NATS_STOP_S),
        env=env,
        answers=lambda: nats_answers(urls[0]),
        timeout_s=NATS_START_S,
        failure=f"nats-server did not answer at {urls[0]} within {NATS_START_S:g} s",
    )
    store = settings.paths.state_dir / "nats"
    return f"nats-server {done.describe()} at {urls[0]}, store {store}, log {process.log_file}"
