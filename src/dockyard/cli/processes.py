"""Background processes recorded by PID file: start detached, recognise, stop.

A recorded PID is trusted only while /proc/PID/cmdline still shows the command that was
started, so a PID reused by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.cli.errors import CliError


@dataclass(frozen=True)
class Managed:
    """One process `dockyard up` may start: how it is started, where it logs, its PID file."""

    name: str
    argv: tuple[str, ...]
    pid_file: Path
    log_file: Path

    def matches(self, cmdline: Sequence[str]) -> bool:
        """True if `cmdline` is this command: same arguments, same program (any version suffix).

        The interpreter path may differ between the `up` and the `down` (python3 vs python3.11),
        so only the program's family name is compared, not its path.
        """
        if not cmdline or list(cmdline[1:]) != list(self.argv[1:]):
            return False
        family = Path(self.argv[0]).name.rstrip("0123456789.")
        return Path(cmdline[0]).name.startswith(family)


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_cmdline(pid: int) -> list[str] | None:
    """The argv of a live process, or None if there is none (or only a zombie).

    The list is empty for a moment while a process execs, and for kernel threads.
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if not is_alive(pid):
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


def recorded_pid(process: Managed) -> int | None:
    """The PID in the PID file if that process still runs the recorded command, else None."""
    try:
        pid = int(process.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    cmdline = read_cmdline(pid)
    return pid if cmdline is not None and process.matches(cmdline) else None


def strays(process: Managed, *, parent: int, mark: str) -> list[int]:
    """PIDs running `process`'s command, with `mark` ("NAME=VALUE") in their environment,
    whose parent is not `parent`: left behind by a supervisor that died (its programs outlive
    it). The mark tells them from the same command started by anyone else."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        cmdline = read_cmdline(pid)
        if not cmdline or not process.matches(cmdline) or _parent(pid) == parent:
            continue
        with contextlib.suppress(OSError):
            if mark.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def end(pid: int, *, timeout_s: float) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`; returns once `pid` is gone."""
    _signal(pid, signal.SIGTERM)
    if not wait_until(lambda: not is_alive(pid), timeout_s=timeout_s):
        _signal(pid, signal.SIGKILL)
        wait_until(lambda: not is_alive(pid), timeout_s=5.0)


def spawn(process: Managed, *, env: dict[str, str]) -> int:
    """Start `process` in its own session (it outlives this CLI), log to its log file, record it."""
    process.log_file.parent.mkdir(parents=True, exist_ok=True)
    process.pid_file.parent.mkdir(parents=True, exist_ok=True)
    with process.log_file.open("ab") as log:
        child = subprocess.Popen(
            process.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    process.pid_file.write_text(f"{child.pid}\n")
    # Popen returns while the kernel may still show an empty cmdline for the new program; wait
    # for it, so the PID file is recognisable (`recorded_pid`) as soon as this returns.
    wait_until(lambda: read_cmdline(child.pid) != [], timeout_s=2.0, interval_s=0.002)
    return child.pid


def stop(process: Managed, *, timeout_s: float) -> int | None:
    """Stop the recorded process: SIGTERM, then SIGKILL after `timeout_s`; forget its PID file.

    Returns the PID stopped, or None if the PID file named nothing of ours (a stale file is
    removed; an unrelated process is left alone).
    """
    pid = recorded_pid(process)
    if pid is not None:
        end(pid, timeout_s=timeout_s)
    process.pid_file.unlink(missing_ok=True)
    return pid


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile: what we wanted
        os.kill(pid, signum)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
    give_up: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll `check` until it holds (True) or `timeout_s` passes or `give_up` holds (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if give_up() or time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def await_answer(
    process: Managed,
    pid: int,
    *,
    answers: Callable[[], bool],
    timeout_s: float,
    stop_timeout_s: float,
    failure: str,
    interval_s: float = 0.2,
) -> None:
    """Wait until a just-started `process` answers; if it dies or is too slow, stop it and
    raise CliError("<failure>: see <log>: <its last lines>"), so nothing half-started stays."""
    if wait_until(
        answers, timeout_s=timeout_s, interval_s=interval_s, give_up=lambda: not is_alive(pid)
    ):
        return
    stop(process, timeout_s=stop_timeout_s)
    raise CliError(f"{failure}: see {process.log_file}: {log_tail(process.log_file)}")


def log_tail(path: Path, *, lines: int = 3) -> str:
    """The last lines of a log file, joined by ' | ', for one-line error messages."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    tail = [line.strip() for line in text.strip().splitlines()[-lines:]]
    return " | ".join(tail) or "(empty log)"
