"""This host's supervisor, for real: supervisord runs programs, brings back one that is killed,
backs off one that cannot stay up and reports it, and stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli.errors import CliError
from dockyard.cli.health import Programs
from dockyard.cli.processes import Managed, is_alive, wait_until
from dockyard.cli.supervision import claimed, disown, supervise
from dockyard.cli.supervisor import FATAL, Program
from dockyard.cli.supervisord import Supervisord, SupervisordPaths
from dockyard.settings import Settings


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisord]:
    settings = Settings.from_env({"DOCKYARD_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    found = Supervisord(SupervisordPaths.of(settings))
    found.ensure_running(env=dict(os.environ))
    yield found
    found.shutdown()


def _program(tmp_path: Path, name: str, code: str, **options: int) -> Program:
    argv = (sys.executable, "-c", code)
    process = Managed(name, argv, tmp_path / f"{name}.pid", tmp_path / "logs" / f"{name}.log")
    return Program(process, stop_s=5, **options)


def test_a_killed_program_is_started_again(supervisor: Supervisord, tmp_path: Path) -> None:
    program = _program(tmp_path, "sleeper", "import time; time.sleep(300)", start_s=1)
    supervisor.install(program)
    first = supervisor.start(program, answers=lambda: True, timeout_s=5, failure="no")
    assert wait_until(lambda: _state(supervisor, "sleeper") == "RUNNING", timeout_s=5)

    os.kill(first, signal.SIGKILL)

    assert wait_until(lambda: _pid(supervisor, "sleeper") not in (0, first), timeout_s=10)
    assert is_alive(_pid(supervisor, "sleeper"))
    history = supervisor.exits()["sleeper"]
    assert history.count == 1 and history.last and "terminated by SIGKILL" in history.last


def test_a_program_that_cannot_stay_up_is_backed_off_given_up_and_reported(
    supervisor: Supervisord, tmp_path: Path
) -> None:
    code = "import sys; print('ERROR cannot bind 127.0.0.1:1: in use', flush=True); sys.exit(3)"
    program = _program(tmp_path, "broken", code, start_s=1, start_retries=2)
    supervisor.install(program)

    with pytest.raises(CliError) as failed:
        supervisor.start(program, answers=lambda: False, timeout_s=30, failure="broken failed")

    assert failed.value.message.startswith("broken failed: see ")
    assert "ERROR cannot bind 127.0.0.1:1: in use" in failed.value.message
    assert _state(supervisor, "broken") == FATAL
    detail, healthy = Programs(supervisor).describe(program.process)
    assert not healthy
    assert "supervisor gave up after repeated quick exits" in detail
    assert "restarts 3 (last exit " in detail and "exit status 3" in detail
    assert "last error: ERROR cannot bind" in detail


def test_shutdown_stops_every_program(supervisor: Supervisord, tmp_path: Path) -> None:
    program = _program(tmp_path, "sleeper", "import time; time.sleep(300)", start_s=1)
    supervisor.install(program)
    pid = supervisor.start(program, answers=lambda: True, timeout_s=5, failure="no")

    assert supervisor.shutdown() is not None

    assert wait_until(lambda: not is_alive(pid), timeout_s=10)
    assert supervisor.pid() is None


def _state(supervisor: Supervisord, name: str) -> str | None:
    state = supervisor.state(name)
    return state.state if state else None


def _pid(supervisor: Supervisord, name: str) -> int:
    state = supervisor.state(name)
    return state.pid if state else 0


def test_programs_left_by_a_killed_supervisor_are_replaced_and_nothing_else_is_touched(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"DOCKYARD_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    program = _program(tmp_path, "sleeper", "import time; time.sleep(300)", start_s=1)
    someone_elses = subprocess.Popen(program.process.argv)  # same command, not the supervisor's
    supervisor = Supervisord(SupervisordPaths.of(settings))
    try:
        first = supervise(
            settings, program, env=dict(os.environ), answers=lambda: True, timeout_s=5,
            failure="no",
        )  # fmt: skip
        os.kill(supervisor.pid() or 0, signal.SIGKILL)
        assert wait_until(lambda: supervisor.pid() is None, timeout_s=5)
        assert is_alive(first.pid)  # a supervisor killed outright leaves its programs running

        again = supervise(
            settings, program, env=dict(os.environ), answers=lambda: True, timeout_s=5,
            failure="no",
        )  # fmt: skip

        assert again.how == f"moved under the supervisor (was unsupervised pid {first.pid})"
        assert wait_until(lambda: not is_alive(first.pid), timeout_s=5)
        assert again.pid != first.pid and is_alive(again.pid)
        assert someone_elses.poll() is None
    finally:
        supervisor.shutdown()
        someone_elses.kill()
        someone_elses.wait()


def test_a_program_is_claimed_while_it_runs_or_its_supervisor_is_gone(
    supervisor: Supervisord, tmp_path: Path
) -> None:
    program = _program(tmp_path, "engine", "import time; time.sleep(300)", start_s=1)
    assert not claimed(supervisor, program.process)  # never made: not up's
    supervisor.install(program)
    supervisor.start(program, answers=lambda: True, timeout_s=5, failure="no")
    assert claimed(supervisor, program.process)

    # Given up or stopped by its supervisor: whatever answers in its place is someone else's,
    # and up forgets the program rather than have status report it failing.
    supervisor.stop(program.name)
    assert wait_until(lambda: _state(supervisor, "engine") != "RUNNING", timeout_s=10)
    assert not claimed(supervisor, program.process)
    disown(supervisor, program.process)
    assert not supervisor.configured(program.name)

    # With its supervisor gone (killed outright, its programs outlive it), a program stays up's
    # to take back: `supervise` ends such strays and starts them again under a new supervisor.
    supervisor.install(program)
    supervisor.start(program, answers=lambda: True, timeout_s=5, failure="no")
    assert supervisor.shutdown() is not None
    assert claimed(supervisor, program.process)
