"""What Dockyard writes for supervisord, and what it reads back from supervisord's log."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from dockyard.cli.processes import Managed
from dockyard.cli.supervisor import Exits, Program
from dockyard.cli.supervisord import exits_from_log, render_program

MARK = "DOCKYARD_SUPERVISED_BY=/s/sv.conf"


def _program(argv: tuple[str, ...], **env: str) -> Program:
    process = Managed("web", argv, Path("/s/run/web.pid"), Path("/s/logs/web.log"))
    return Program(process, stop_s=15, environment=env)


def _section(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()  # interpolating, as supervisord reads it
    parser.read_string(text)
    return dict(parser["program:web"])


@pytest.mark.parametrize(
    "argv",
    [
        ("/usr/bin/etcd", "--name=dockyard", "--data-dir=/var/lib/dockyard/etcd"),
        ("/usr/bin/python3", "-c", 'print("100% done")'),
        ("/bin/sh", "-c", "echo 'a b' \\ c"),
    ],
)
def test_a_command_reads_back_as_the_same_arguments(argv: tuple[str, ...]) -> None:
    command = _section(render_program(_program(argv), mark=MARK))["command"]
    assert tuple(shlex.split(command)) == argv


def test_environment_values_keep_quotes_commas_and_percent_signs() -> None:
    text = render_program(_program(("/bin/true",), DOCKYARD_A='x,"y"', DOCKYARD_B="50%"), mark=MARK)
    environment = _section(text)["environment"]
    lexer = shlex.shlex(environment, posix=True)
    lexer.whitespace = ","
    lexer.whitespace_split = True
    assert dict(item.split("=", 1) for item in lexer) == {
        "DOCKYARD_A": 'x,"y"', "DOCKYARD_B": "50%", "DOCKYARD_SUPERVISED_BY": "/s/sv.conf",
    }  # fmt: skip


def test_a_program_is_restarted_always_backed_off_and_stopped_with_its_group() -> None:
    section = _section(render_program(_program(("/bin/true",)), mark=MARK))
    assert section["autorestart"] == "true"
    assert section["autostart"] == "false"  # `up` starts programs in order
    assert int(section["startsecs"]) >= 5 and int(section["startretries"]) > 0
    assert section["stopwaitsecs"] == "15"
    assert section["killasgroup"] == "true"
    assert section["stdout_logfile"] == "/s/logs/web.log"


def test_dockerd_alone_is_stopped_without_its_group() -> None:
    process = Managed("dockerd", ("/usr/sbin/dockerd",), Path("/p"), Path("/l"))
    text = render_program(Program(process, stop_s=45, signal_group=False), mark=MARK)
    parser = configparser.ConfigParser()
    parser.read_string(text)
    assert parser["program:dockerd"]["killasgroup"] == "false"


LOG = """\
2026-12-06 15:11:38,669 INFO supervisord started with pid 16584
2026-12-06 15:11:39,681 INFO spawned: 'agent' with pid 16587
2026-12-06 15:11:42,690 INFO spawned: 'quick' with pid 16589
2026-12-06 15:11:42,696 WARN exited: quick (exit status 2; not expected)
2026-12-06 15:11:43,688 WARN exited: agent (exit status 1; not expected)
2026-12-06 15:11:43,691 INFO spawned: 'agent' with pid 16600
2026-12-06 15:11:47,696 INFO gave up: quick entered FATAL state, too many start retries too quickly
2026-12-06 15:11:50,100 WARN exited: agent (terminated by SIGKILL; not expected)
2026-12-06 15:11:50,200 INFO spawned: 'agent' with pid 16700
2026-12-06 15:12:00,000 WARN stopped: etcd (terminated by SIGTERM)
"""


@pytest.mark.parametrize(
    ("log", "name", "expected"),
    [
        (LOG, "agent", Exits(2, "2026-12-06 15:11:50: terminated by SIGKILL", False)),
        (LOG, "quick", Exits(1, "2026-12-06 15:11:42: exit status 2", True)),
        (LOG, "etcd", None),  # stopped when asked: not an exit to report
        (LOG + "2026-12-06 15:13:00,000 INFO spawned: 'quick' with pid 1\n", "quick",
         Exits(1, "2026-12-06 15:11:42: exit status 2", False)),  # tried again by `up`
        (LOG + "2026-12-06 16:00:00,000 INFO supervisord started with pid 9\n", "agent", None),
    ],
)  # fmt: skip
def test_unexpected_exits_are_read_from_supervisords_log(
    log: str, name: str, expected: Exits | None
) -> None:
    assert exits_from_log(log.splitlines()).get(name) == expected
