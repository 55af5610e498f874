"""This host's supervisor with its state directory (its own log, its programs' logs) on a disk
that fills up: it drops the lines it cannot write and goes on supervising, and the logs resume
once space is freed. (supervisord as such ends when a program's log cannot be written: it
reports the failure on its own stderr, a file on the same full disk, and that error escapes.)"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.cli.processes import Managed, is_alive, spawn, wait_until
from dockyard.cli.supervisor import Program
from dockyard.cli.supervisord import MAIN, Supervisord, SupervisordPaths, render_supervisord
from dockyard.settings import Settings
from tests.support.small_disk import SmallDisk, small_disk

# A line of about 1 KiB every 20 ms: the last free page of its log fills within a second.
TALKER = (
    "import itertools, logging, time; "
    "logging.basicConfig(level=logging.INFO, format='%(message)s'); "
    "[(logging.info('line %d %s', i, 'x' * 1000), time.sleep(0.02)) for i in itertools.count()]"
)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "state", size_mb=8) as found:
        yield found


@pytest.fixture
def supervisor(disk: SmallDisk, tmp_path: Path) -> Iterator[Supervisord]:
    settings = Settings.from_env({"DOCKYARD_STATE_DIR": str(disk.root), "HOME": str(tmp_path)})
    found = Supervisord(SupervisordPaths.of(settings))
    found.ensure_running(env=dict(os.environ))
    yield found
    disk.free()
    with contextlib.suppress(Exception):
        found.shutdown()
    # Programs a supervisord that ended left behind: ended here, by their pids.
    for pid in [p for name in ("talker", "sleeper") for p in _pids(disk.root / "run", name)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids(run: Path, name: str) -> list[int]:
    path = run / f"{name}.pid"
    return [int(path.read_text())] if path.exists() and path.read_text().strip() else []


def _program(disk: SmallDisk, name: str, code: str) -> Program:
    argv = (sys.executable, "-c", code)
    pid_file = disk.root / "run" / f"{name}.pid"
    process = Managed(name, argv, pid_file, disk.root / "logs" / f"{name}.log")
    return Program(process, stop_s=5, start_s=1)


def _start(supervisor: Supervisord, program: Program) -> int:
    supervisor.install(program)
    pid = supervisor.start(program, answers=lambda: True, timeout_s=10, failure="no")
    program.process.pid_file.write_text(str(pid))  # for the teardown, should supervisord end
    return pid


def test_supervisord_outlives_a_full_disk_and_its_programs_logs_resume(
    supervisor: Supervisord, disk: SmallDisk
) -> None:
    talker = _program(disk, "talker", TALKER)
    sleeper = _program(disk, "sleeper", "import time; time.sleep(300)")
    _start(supervisor, talker)
    first = _start(supervisor, sleeper)
    supervisord = supervisor.pid()
    assert supervisord is not None

    disk.fill()
    time.sleep(3)  # the talker's lines cannot be written all this while

    assert is_alive(supervisord), "supervisord ended when its programs' logs could not be written"
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: _pid(supervisor, "sleeper") not in (0, first), timeout_s=10)

    disk.free()
    log = talker.process.log_file
    size = log.stat().st_size
    assert wait_until(lambda: log.stat().st_size > size + 10_000, timeout_s=10)
    assert supervisor.pid() == supervisord


def _pid(supervisor: Supervisord, name: str) -> int:
    state = supervisor.state(name)
    return state.pid if state is not None else 0


def test_a_supervisord_an_earlier_up_started_is_still_found_and_stopped(tmp_path: Path) -> None:
    """Before supervisord ran as `dockyard.cli.supervisord_main` it ran as PyPI's own module:
    one left running by an earlier `up` is this host's supervisor until `down` stops it."""
    settings = Settings.from_env({"DOCKYARD_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    paths = SupervisordPaths.of(settings)
    argv = tuple("supervisor.supervisord" if a == MAIN else a for a in paths.process.argv)
    earlier = dataclasses.replace(paths.process, argv=argv)
    paths.programs.mkdir(parents=True)
    paths.config.write_text(render_supervisord(paths))
    pid = spawn(earlier, env=dict(os.environ))
    try:
        assert wait_until(paths.socket.exists, timeout_s=15)
        found = Supervisord(paths)
        assert found.pid() == pid
        assert found.ensure_running(env=dict(os.environ)) == pid
        assert found.shutdown() == pid
        assert not is_alive(pid)
    finally:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)
