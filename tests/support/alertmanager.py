"""Debian's Alertmanager on a free loopback port with the configuration Dockyard writes,
its webhook pointed at a receiver the test owns (standing in for the server's
/api/v1/alerts/webhook); stopped, and waited for, afterwards."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.cli.monitoring import alertmanager_process, ready_problem, write_alertmanager_config
from dockyard.settings import Settings
from tests.support.nats import free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def alertmanager_missing() -> str | None:
    """Why no Alertmanager can run here, or None."""
    if os.access(ALERTMANAGER, os.X_OK):
        return None
    return f"{ALERTMANAGER} is absent (Debian's prometheus-alertmanager package)"


@contextmanager
def alertmanager(state: Path, *, webhook_port: int) -> Iterator[Settings]:
    """Alertmanager running from Dockyard's alertmanager.yml under `state`; the settings
    name its URL (monitoring.alertmanager_url)."""
    settings = Settings.from_env(
        {
            "HOME": str(state),
            "DOCKYARD_STATE_DIR": str(state),
            "DOCKYARD_LISTEN_PORT": str(webhook_port),
            "DOCKYARD_ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}",
        },
        uid=0,
    )
    write_alertmanager_config(settings)
    process = alertmanager_process(settings)
    process.log_file.parent.mkdir(parents=True, exist_ok=True)
    with process.log_file.open("ab") as log:
        child = subprocess.Popen(process.argv, stdout=log, stderr=log)
    try:
        _wait_ready(settings.monitoring.alertmanager_url, child, process.log_file)
        yield settings
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def _wait_ready(url: str, child: subprocess.Popen[bytes], log: Path, wait_s: float = 30) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {log.read_text()[-2000:]}")
        if ready_problem(url) is None:
            return
        time.sleep(0.1)
    raise RuntimeError(f"alertmanager not ready within {wait_s:g} s: {log.read_text()[-2000:]}")
