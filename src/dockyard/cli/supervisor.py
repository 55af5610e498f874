"""The supervisor of this host's processes: supervisord, run by `dockyard up`.

Every long-running process `dockyard up` starts (dockerd when it starts one, etcd, the registry,
the server, the agent) is a program of one supervisord (PyPI's `supervisor`, installed with
Dockyard, so its version moves with the project and no system-wide service is touched). Dockyard
writes its configuration (<state>/supervisor/supervisord.conf), starts it as a recorded process
(<state>/run/supervisord.pid) and talks to it over XML-RPC on a unix socket only root can open.

supervisord restarts a program whenever it exits, however it exits. A program that exits within
`START_S` of its start counts as a failed start: supervisord waits 1 s, 2 s, 3 s ... between
tries and gives up (FATAL, shown by `dockyard status`) after `START_RETRIES`, so a program that
cannot run is backed off and reported, never restarted in a hot loop; `dockyard up` tries it
again. Programs do not start with supervisord: `up` starts them one at a time, in order, each
once the one before answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import resource
import socket
import sys
import xmlrpc.client
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.cli.errors import CliError
from dockyard.cli.processes import (
    Managed,
    end,
    log_tail,
    recorded_pid,
    spawn,
    stop,
    strays,
    wait_until,
)
from dockyard.settings import Settings

START_S = 10
"""A program must stay up this long for its start to count; quicker exits are backed off."""
START_RETRIES = 5
RPC_TIMEOUT_S = 10.0
SUPERVISORD_START_S = 15.0
SUPERVISORD_STOP_S = 60.0  # it stops every program first
SOCKET_PATH_MAX = 100  # a unix socket's path must fit in 108 bytes
LOG_MAX_BYTES = 50 * 1024 * 1024
LOG_BACKUPS = 5
MIN_FDS = 65536  # dockerd and etcd want many descriptors; programs inherit supervisord's limit

SUPERVISED_BY = "DOCKYARD_SUPERVISED_BY"
RUNNING, STARTING, BACKOFF, FATAL = "RUNNING", "STARTING", "BACKOFF", "FATAL"
STOPPED_STATES = frozenset({"STOPPED", "EXITED", FATAL})


@dataclass(frozen=True)
class Program:
    """One process supervisord keeps running."""

    process: Managed
    """Its name, command and log file."""
    stop_s: float
    """How long it may take to stop after SIGTERM before it is killed (with its group)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables it gets on top of supervisord's own environment."""
    start_s: int = START_S
    start_retries: int = START_RETRIES
    signal_group: bool = True
    """Stop and kill its whole process group. False for dockerd: its containers' shims must
    outlive it (as Debian's docker.service has KillMode=process)."""

    @property
    def name(self) -> str:
        return self.process.name


@dataclass(frozen=True)
class ProgramState:
    """What supervisord says of one program now."""

    name: str
    state: str
    pid: int
    since: float
    """When it entered its current run (start time if running, stop time otherwise)."""
    description: str
    """supervisord's own words: "pid 12, uptime 0:01:02", "Exited too quickly ..."."""

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def alive(self) -> bool:
        """Running, or started and not yet past `START_S`."""
        return self.state in (RUNNING, STARTING)


@dataclass(frozen=True)
class SupervisorPaths:
    config: Path
    programs: Path
    """One file per program (`NAME.conf`), included by `config`."""
    socket: Path
    log: Path
    process: Managed

    @classmethod
    def of(cls, settings: Settings) -> SupervisorPaths:
        state, run, logs = (
            settings.paths.state_dir, settings.paths.run_dir, settings.paths.logs_dir
        )  # fmt: skip
        config = state / "supervisor" / "supervisord.conf"
        sock = run / "supervisor.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:  # deep test directories: a short path of its own
            digest = hashlib.sha256(str(state).encode()).hexdigest()[:16]
            sock = Path(f"/tmp/dockyard-supervisor-{digest}.sock")  # noqa: S108
        argv = (sys.executable, "-m", "supervisor.supervisord", "--nodaemon", "-c", str(config))
        process = Managed(
            name="supervisord",
            argv=argv,
            pid_file=run / "supervisord.pid",
            log_file=logs / "supervisord.out",  # its start-up errors; its log is `log`
        )
        return cls(
            config=config,
            programs=config.parent / "programs",
            socket=sock,
            log=logs / "supervisord.log",
            process=process,
        )


def render_supervisord(paths: SupervisorPaths) -> str:
    """supervisord's own configuration (pure)."""
    return _ini([
        ("unix_http_server", {"file": str(paths.socket), "chmod": "0700"}),
        ("supervisord", {
            "logfile": str(paths.log),
            "logfile_maxbytes": str(LOG_MAX_BYTES),
            "logfile_backups": str(LOG_BACKUPS),
            "pidfile": str(paths.process.pid_file),
            "nodaemon": "true",
            "silent": "true",
            "minfds": str(min(MIN_FDS, resource.getrlimit(resource.RLIMIT_NOFILE)[1])),
            "user": "root" if os.geteuid() == 0 else "",
        }),
        ("rpcinterface:supervisor", {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        }),
        ("supervisorctl", {"serverurl": f"unix://{paths.socket}"}),
        ("include", {"files": f"{paths.programs}/*.conf"}),
    ])  # fmt: skip


def render_program(program: Program, *, mark: str) -> str:
    """One program's section (pure). `mark` ("NAME=VALUE") is put in its environment, so its
    process is known as this supervisor's even after the supervisor died."""
    log = str(program.process.log_file)
    key, _, value = mark.partition("=")
    environment = {**program.environment, key: value}
    return _ini([(f"program:{program.name}", {
        "command": _escape(" ".join(_quote(arg) for arg in program.process.argv)),
        "environment": ",".join(
            f'{key}="{_escape(_quote_value(value))}"'
            for key, value in sorted(environment.items())
        ),
        "autostart": "false",  # `dockyard up` starts each in order, once the one before answers
        "autorestart": "true",
        "startsecs": str(program.start_s),
        "startretries": str(program.start_retries),
        "stopsignal": "TERM",
        "stopwaitsecs": str(int(program.stop_s)),
        "stopasgroup": str(program.signal_group).lower(),
        "killasgroup": str(program.signal_group).lower(),
        "redirect_stderr": "true",
        "stdout_logfile": _escape(log),
        "stdout_logfile_maxbytes": str(LOG_MAX_BYTES),
        "stdout_logfile_backups": str(LOG_BACKUPS),
    })])  # fmt: skip


def _ini(sections: list[tuple[str, dict[str, str]]]) -> str:
    lines: list[str] = []
    for title, values in sections:
        lines.append(f"[{title}]")
        lines += [f"{key}={value}" for key, value in values.items() if value != ""]
        lines.append("")
    return "\n".join(lines)


def _quote(arg: str) -> str:
    """One argument as supervisord's shlex-based parser reads it back."""
    if arg and all(c.isalnum() or c in "/._-=:,@+" for c in arg):
        return arg
    return '"' + _quote_value(arg) + '"'


def _quote_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _escape(text: str) -> str:
    """supervisord expands %(name)s in its values: a literal % is written %%."""
    return text.replace("%", "%%")


class Supervisor:
    """This host's supervisord: configured, started and asked by `dockyard up`, `down`, `status`."""

    def __init__(self, paths: SupervisorPaths) -> None:
        self.paths = paths
        self.mark = f"{SUPERVISED_BY}={paths.config}"
        """In every program's environment: which supervisor started it."""

    # -- the supervisor itself ----------------------------------------------------------------

    def pid(self) -> int | None:
        """supervisord's PID while it runs."""
        return recorded_pid(self.paths.process)

    def ensure_running(self, *, env: dict[str, str]) -> int:
        """Start supervisord unless it runs; returns its PID. Programs inherit `env`."""
        self.paths.programs.mkdir(parents=True, exist_ok=True)
        _write(self.paths.config, render_supervisord(self.paths))
        pid = self.pid()
        if pid is not None:
            return pid
        pid = spawn(self.paths.process, env=env)
        if not wait_until(self._answers, timeout_s=SUPERVISORD_START_S, interval_s=0.05):
            stop(self.paths.process, timeout_s=SUPERVISORD_STOP_S)
            raise CliError(
                f"supervisord did not answer on {self.paths.socket}: see "
                f"{self.paths.process.log_file}: {log_tail(self.paths.process.log_file)}"
            )
        return pid

    def shutdown(self) -> int | None:
        """Stop supervisord and with it every program (each given its stop time)."""
        pid = self.pid()
        if pid is not None:
            stop(self.paths.process, timeout_s=SUPERVISORD_STOP_S)
        return pid

    def shutdown_if_idle(self) -> int | None:
        """Stop supervisord if it has no program left to supervise."""
        return None if any(self.paths.programs.glob("*.conf")) else self.shutdown()

    def _answers(self) -> bool:
        try:
            return bool(self._call("supervisor.getState")["statename"] == RUNNING)
        except CliError:
            return False

    # -- programs -----------------------------------------------------------------------------

    def configured(self, name: str) -> bool:
        """True if an earlier `up` made `name` a program of this host's supervisor."""
        return self._file(name).exists()

    def install(self, program: Program) -> bool:
        """Make `program` one of supervisord's, as written; True if that changed anything (a
        running program whose command or environment changed is stopped: `start` it)."""
        if not _write(self._file(program.name), render_program(program, mark=self.mark)):
            return False
        added, changed, _ = self._call("supervisor.reloadConfig")[0]
        if program.name in changed:
            with contextlib.suppress(CliError):  # not running
                self._call("supervisor.stopProcessGroup", program.name, True)
            self._call("supervisor.removeProcessGroup", program.name)
        if program.name in added or program.name in changed:
            self._call("supervisor.addProcessGroup", program.name)
        return True

    def uninstall(self, name: str) -> int | None:
        """Stop the program and forget it; returns the PID it had, if it ran."""
        pid = self.stop(name)
        if self._file(name).exists():
            self._file(name).unlink()
            if self.pid() is not None:
                with contextlib.suppress(CliError):
                    self._call("supervisor.removeProcessGroup", name)
        return pid

    def state(self, name: str) -> ProgramState | None:
        """The program's state, or None if supervisord does not run it (or is not running)."""
        if self.pid() is None:
            return None
        try:
            info = self._call("supervisor.getProcessInfo", name)
        except CliError:
            return None
        since = info["start"] if info["statename"] == RUNNING else info["stop"]
        return ProgramState(
            name=name,
            state=str(info["statename"]),
            pid=int(info["pid"]),
            since=float(since),
            description=str(info["description"]),
        )

    def start(
        self, program: Program, *, answers: Callable[[], bool], timeout_s: float, failure: str
    ) -> int:
        """Start the program unless it runs, and wait until `answers` holds. Returns its PID.

        A program that gave up (FATAL) is tried again. If it does not answer within
        `timeout_s`, it is stopped (nothing half-started stays) and CliError says
        "<failure>: see <its log>: <its last lines>".
        """
        name = program.name
        current = self.state(name)
        if current is None or current.state in STOPPED_STATES:
            try:
                self._call("supervisor.startProcess", name, False)
            except CliError as exc:
                if "ALREADY_STARTED" not in exc.message:
                    raise
        if wait_until(answers, timeout_s=timeout_s, interval_s=0.1, give_up=self._gave_up(name)):
            state = self.state(name)
            return state.pid if state else 0
        self.stop(name)
        log = program.process.log_file
        raise CliError(f"{failure}: see {log}: {log_tail(log)}")

    def stop(self, name: str) -> int | None:
        """Stop the program (SIGTERM, then SIGKILL to its group after its stop time); returns
        the PID it had, or None if it was not running."""
        current = self.state(name)
        if current is None or current.state in STOPPED_STATES:
            return None
        with contextlib.suppress(CliError):  # it stopped meanwhile
            self._call("supervisor.stopProcess", name, True)
        return current.pid or None

    def _gave_up(self, name: str) -> Callable[[], bool]:
        def check() -> bool:
            state = self.state(name)
            return state is None or state.state == FATAL

        return check

    def _file(self, name: str) -> Path:
        return self.paths.programs / f"{name}.conf"

    # -- XML-RPC ------------------------------------------------------------------------------

    def _call(self, method: str, *args: Any) -> Any:
        proxy = xmlrpc.client.ServerProxy(
            "http://localhost/RPC2", transport=_UnixTransport(self.paths.socket)
        )
        target: Any = proxy
        for part in method.split("."):
            target = getattr(target, part)
        try:
            return target(*args)
        except xmlrpc.client.Fault as exc:
            raise CliError(f"supervisord refused {method}: {exc.faultString}") from exc
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            raise CliError(f"supervisord does not answer on {self.paths.socket}: {exc}") from exc
        finally:
            proxy("close")()


def _write(path: Path, text: str) -> bool:
    """Write `text` to `path` (mode 0600: it may hold secrets) unless it holds it already."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.chmod(0o600)
    temporary.replace(path)  # never a half-written file, whatever happens
    return True


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=RPC_TIMEOUT_S)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's unix socket, with a timeout (a hung supervisord must not
    hang `dockyard status`)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path)


@dataclass(frozen=True)
class Exits:
    """A program's exits that nobody asked for, since supervisord last started."""

    count: int = 0
    last: str | None = None
    """When and how the last one happened: "2026-12-06 15:11:47: exit status 3"."""
    gave_up: bool = False
    """supervisord stopped trying after repeated quick exits (FATAL)."""


_EVENT = re.compile(
    r"^(?P<at>\S+ \S+?),\d+ \w+ (?P<kind>exited|gave up|spawned): '?(?P<name>[\w.-]+)'?"
    r"(?: \((?P<how>[^;)]*)(?P<unexpected>; not expected)?\))?"
)


def exits(log_lines: Iterable[str]) -> dict[str, Exits]:
    """Each program's unexpected exits, read from supervisord's own log (pure)."""
    found: dict[str, Exits] = {}
    for line in log_lines:
        if " supervisord started with pid " in line:
            found = {}  # a new supervisord: counts start again
            continue
        event = _EVENT.match(line)
        if event is None:
            continue
        name, kind, at = event["name"], event["kind"], event["at"]
        seen = found.get(name, Exits())
        if kind == "exited" and event["unexpected"]:
            found[name] = Exits(seen.count + 1, f"{at}: {event['how']}", False)
        elif kind == "gave up":
            found[name] = Exits(seen.count, seen.last, True)
        elif kind == "spawned" and seen.gave_up:
            found[name] = Exits(seen.count, seen.last, False)
    return found


def read_tail(path: Path, max_bytes: int = 1 << 20) -> list[str]:
    """The last lines of a log file (at most `max_bytes` of it); none if there is no file."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - max_bytes))
            return file.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []


@dataclass(frozen=True)
class Supervised:
    pid: int
    how: str
    """"started", "already running", or "restarted ..." (see `supervise`)."""

    def describe(self) -> str:
        return f"{self.how}: pid {self.pid}"


def supervise(
    settings: Settings,
    program: Program,
    *,
    env: dict[str, str],
    answers: Callable[[], bool],
    timeout_s: float,
    failure: str,
) -> Supervised:
    """Make `program` a program of this host's supervisor and have it running and answering.

    Idempotent: a program that runs and answers is left alone. One that an older `dockyard up`
    started without a supervisor (a live PID in its <state>/run/NAME.pid) is stopped first and
    started again under the supervisor, which then keeps it running.
    """
    supervisor = Supervisor(SupervisorPaths.of(settings))
    parent = supervisor.ensure_running(env=env)
    unsupervised = stop(program.process, timeout_s=program.stop_s)
    for pid in strays(program.process, parent=parent, mark=supervisor.mark):
        # A supervisor killed outright leaves its programs running: end them, or the new
        # copy would find its port or data directory taken.
        end(pid, timeout_s=program.stop_s)
        unsupervised = unsupervised or pid
    existed = supervisor.configured(program.name)
    changed = supervisor.install(program)
    before = supervisor.state(program.name)
    running = before is not None and before.alive
    pid = supervisor.start(program, answers=answers, timeout_s=timeout_s, failure=failure)
    if unsupervised is not None:
        how = f"moved under the supervisor (was unsupervised pid {unsupervised})"
    elif running:
        how = "already running under the supervisor"
    elif changed and existed:
        how = "restarted by the supervisor with its new settings"
    else:
        how = "started under the supervisor"
    return Supervised(pid, how)
