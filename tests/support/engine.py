"""Make sure a Docker engine answers on the local socket, starting Debian's dockerd if needed.

Tests (and `.ci/run`, via `python -m tests.support.engine`) share one engine. A dockerd found
running is used as it is and never stopped; one started here is left running for the next user,
its pid and log kept under STATE_DIR so a person can find and stop it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

SOCKET = Path("/var/run/docker.sock")
STATE_DIR = Path("/tmp/dockyard-test-engine")
# Debian installs dockerd in /usr/sbin; PATH may not include sbin for non-login shells.
DOCKERD_CANDIDATES = ("/usr/sbin/dockerd", "/usr/bin/dockerd")


class EngineMissingError(RuntimeError):
    """No engine answers and no dockerd binary exists to start one."""


def find_dockerd() -> str | None:
    """Path of a dockerd binary, or None when Docker is not installed."""
    found = shutil.which("dockerd")
    if found:
        return found
    return next((p for p in DOCKERD_CANDIDATES if os.access(p, os.X_OK)), None)


def engine_answers(socket: Path = SOCKET) -> bool:
    """True if `/_ping` on `socket` answers OK."""
    if not socket.exists():
        return False
    try:
        client = docker.APIClient(base_url=f"unix://{socket}", timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (DockerException, RequestException, OSError):
        return False


def ensure_engine(*, state_dir: Path = STATE_DIR, timeout_s: float = 180.0) -> bool:
    """Return once an engine answers on SOCKET; True if this call started it.

    The wait is long because dockerd restores its networks before it answers, and each network
    whose IPAM driver is gone (an agent that is not running yet) costs it ~15 s of retries.

    Raises EngineMissingError if no dockerd binary exists, TimeoutError if the one started does not
    answer within `timeout_s` (its log file is named in the message).
    """
    if engine_answers():
        return False
    state_dir.mkdir(parents=True, exist_ok=True)
    # Parallel test processes may all find no engine: one starts it, the others wait on the lock.
    with (state_dir / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if engine_answers():
            return False
        process = _start_dockerd(state_dir)
        _wait_for_engine(process, state_dir, timeout_s)
        return True


def _start_dockerd(state_dir: Path) -> subprocess.Popen[bytes]:
    binary = find_dockerd()
    if binary is None:
        raise EngineMissingError(
            "no Docker engine answers on /var/run/docker.sock and no dockerd is installed: "
            "install Debian's docker.io (apt-get install docker.io)"
        )
    log = (state_dir / "dockerd.log").open("ab")
    # A new session so the engine outlives the test run that started it (other runs share it).
    process = subprocess.Popen(
        [binary, "--host", f"unix://{SOCKET}"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    (state_dir / "dockerd.pid").write_text(f"{process.pid}\n")
    return process


def _wait_for_engine(process: subprocess.Popen[bytes], state_dir: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine_answers():
            return
        if process.poll() is not None:
            raise TimeoutError(
                f"dockerd exited with {process.returncode} before answering: "
                f"see {state_dir / 'dockerd.log'}"
            )
        time.sleep(0.2)
    raise TimeoutError(
        f"dockerd did not answer on {SOCKET} within {timeout_s:g} s: "
        f"see {state_dir / 'dockerd.log'}"
    )


def main() -> int:
    """Print the engine's status; exit 1 if none could be had."""
    try:
        started = ensure_engine()
    except (EngineMissingError, TimeoutError) as exc:
        print(f"docker engine: unavailable: {exc}", file=sys.stderr)
        return 1
    how = f"started (log {STATE_DIR / 'dockerd.log'})" if started else "already running"
    print(f"docker engine: {how}, answering on {SOCKET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
