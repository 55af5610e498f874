"""Background processes by PID file: started detached, recognised by cmdline, stopped by PID."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.processes import Managed, read_cmdline, recorded_pid, spawn, stop, wait_until

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(300)"
)


def _sleeper(tmp_path: Path) -> Managed:
    return Managed(
        name="sleeper",
        argv=("sleep", "300"),
        pid_file=tmp_path / "run" / "sleeper.pid",
        log_file=tmp_path / "logs" / "sleeper.log",
    )


@pytest.mark.parametrize(
    ("argv", "cmdline", "same"),
    [
        (("/usr/bin/python3", "-m", "dockyard.cli", "server"),
         ["/opt/venv/bin/python3.11", "-m", "dockyard.cli", "server"], True),
        (("/usr/bin/python3", "-m", "dockyard.cli", "server"),
         ["/usr/bin/python3", "-m", "other", "server"], False),
        (("dockerd", "--host", "unix:///s"), ["/usr/sbin/dockerd", "--host", "unix:///s"], True),
        (("dockerd", "--host", "unix:///s"), ["/usr/bin/containerd", "--host", "unix:///s"], False),
        (("dockerd",), [], False),
    ],
)  # fmt: skip
def test_a_process_is_recognised_by_program_and_arguments(
    argv: tuple[str, ...], cmdline: list[str], same: bool
) -> None:
    managed = Managed(name="x", argv=argv, pid_file=Path("/x"), log_file=Path("/y"))
    assert managed.matches(cmdline) is same


def test_spawned_process_is_recorded_and_stopped(tmp_path: Path) -> None:
    sleeper = _sleeper(tmp_path)
    pid = spawn(sleeper, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert recorded_pid(sleeper) == pid
    assert os.getsid(pid) == pid  # its own session: it outlives the CLI
    assert stop(sleeper, timeout_s=5) == pid
    assert read_cmdline(pid) is None
    assert not sleeper.pid_file.exists()


def test_a_process_ignoring_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    stubborn = Managed(
        name="stubborn",
        argv=(sys.executable, "-c", IGNORES_SIGTERM),
        pid_file=tmp_path / "stubborn.pid",
        log_file=tmp_path / "stubborn.log",
    )
    pid = spawn(stubborn, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert wait_until(lambda: "ready" in stubborn.log_file.read_text(), timeout_s=10)
    assert stop(stubborn, timeout_s=0.3) == pid
    assert read_cmdline(pid) is None


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    sleeper = _sleeper(tmp_path)
    bystander = subprocess.Popen(["sleep", "299"])  # same program, other arguments
    try:
        sleeper.pid_file.parent.mkdir(parents=True)
        sleeper.pid_file.write_text(f"{bystander.pid}\n")
        assert recorded_pid(sleeper) is None
        assert stop(sleeper, timeout_s=1) is None
        assert bystander.poll() is None  # still running
        assert not sleeper.pid_file.exists()  # the stale record is dropped
    finally:
        bystander.kill()
        bystander.wait()
