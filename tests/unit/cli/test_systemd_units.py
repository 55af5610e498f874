"""The systemd units Dockyard writes, checked by systemd's own `systemd-analyze verify`, and the
reading of `systemctl show`. (systemd does not run as init on the project's machines: the verbs
that start and stop units have not run here; see cli/systemd.py.)"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.processes import Managed
from dockyard.cli.supervisor import BACKOFF, FATAL, RUNNING, Exits, Program
from dockyard.cli.systemd import parse_show, render_unit

MARK = "DOCKYARD_SUPERVISED_BY=systemd:/etc/systemd/system"


def _program(name: str, argv: tuple[str, ...], **options: object) -> Program:
    process = Managed(name, argv, Path(f"/s/run/{name}.pid"), Path(f"/s/logs/{name}.log"))
    return Program(process, stop_s=15, **options)  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is absent")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    programs = [
        _program("etcd", (sys.executable, "-c", "pass", "--data-dir=/var/lib/dock yard/etcd")),
        _program("server", (sys.executable, "-m", "dockyard.cli", "server"),
                 environment={"DOCKYARD_STATE_DIR": "/var/lib/dockyard", "DOCKYARD_X": 'a "b" 5%'}),
        _program("dockerd", (sys.executable, "-c", "pass"), signal_group=False),
        _program("nats", (sys.executable, "-c", "pass", "--jetstream",
                          "--store_dir=/var/lib/dockyard/nats", "--addr=127.0.0.1")),
    ]  # fmt: skip
    for program in programs:
        unit = tmp_path / f"dockyard-{program.name}.service"
        unit.write_text(render_unit(program, mark=MARK))
        done = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_unit_restarts_always_is_ordered_and_keeps_words_and_percent_signs() -> None:
    argv = ("/usr/bin/etcd", "--data-dir=/var/lib/dock yard/etcd", "--x=50%", "$HOME")
    text = render_unit(_program("etcd", argv), mark=MARK)
    lines = text.splitlines()
    assert "Restart=always" in lines
    assert "After=network-online.target dockyard-dockerd.service dockyard-registry.service" in lines
    assert "KillMode=control-group" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    words = shlex.split(exec_start.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))
    assert tuple(words) == argv
    assert f"Environment={MARK}" in lines


def test_nats_server_starts_after_etcd_and_before_the_server() -> None:
    nats = render_unit(_program("nats", ("/usr/sbin/nats-server", "--jetstream")), mark=MARK)
    after = next(line for line in nats.splitlines() if line.startswith("After="))
    assert after.endswith("dockyard-etcd.service")
    server = render_unit(_program("server", (sys.executable, "-m", "dockyard.cli")), mark=MARK)
    assert "dockyard-nats.service" in next(
        line for line in server.splitlines() if line.startswith("After=")
    )


def test_dockerd_is_stopped_alone() -> None:
    text = render_unit(_program("dockerd", ("/usr/sbin/dockerd",), signal_group=False), mark=MARK)
    assert "KillMode=process" in text.splitlines()
    assert "After=network-online.target" in text.splitlines()


SHOW = """\
LoadState=loaded
ActiveState={active}
SubState={sub}
Result={result}
MainPID={pid}
NRestarts={restarts}
ExecMainCode={code}
ExecMainStatus={status}
ExecMainExitTimestamp=Sun 2026-12-06 15:11:47 UTC
"""


@pytest.mark.parametrize(
    ("shown", "state", "exits"),
    [
        (("active", "running", "success", 42, 0, 0, 0), RUNNING, Exits()),
        (("active", "running", "success", 43, 2, 2, 9), RUNNING,
         Exits(2, "Sun 2026-12-06 15:11:47 UTC: terminated by signal 9", False)),
        (("activating", "auto-restart", "exit-code", 0, 3, 1, 1), BACKOFF,
         Exits(3, "Sun 2026-12-06 15:11:47 UTC: exit status 1", False)),
        (("failed", "failed", "start-limit-hit", 0, 10, 1, 3), FATAL,
         Exits(10, "Sun 2026-12-06 15:11:47 UTC: exit status 3", True)),
    ],
)  # fmt: skip
def test_systemctl_show_reads_as_a_state_and_its_restarts(
    shown: tuple[str, str, str, int, int, int, int], state: str, exits: Exits
) -> None:
    active, sub, result, pid, restarts, code, status = shown
    text = SHOW.format(
        active=active, sub=sub, result=result, pid=pid, restarts=restarts, code=code,
        status=status,
    )  # fmt: skip
    found, history = parse_show("agent", text)
    assert found is not None and found.state == state and found.pid == pid
    assert history == exits


def test_a_unit_systemd_does_not_know_is_no_program() -> None:
    assert parse_show("agent", "LoadState=not-found\nActiveState=inactive\n") == (None, Exits())
