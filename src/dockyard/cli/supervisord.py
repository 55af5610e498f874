"""supervisord as this host's supervisor (cli/supervisor.py), where systemd does not run.

PyPI's `supervisor`, installed with Dockyard (its version moves with the project; no system-wide
service is touched). Dockyard writes its configuration (<state>/supervisor/supervisord.conf, one
file per program under programs/), starts it as a recorded process (<state>/run/supervisord.pid)
and talks to it over XML-RPC on a unix socket only root can open. supervisord restarts a program
whenever it exits; one that exits within its start time (10 s) is a failed start, tried again
after 1 s, 2 s, 3 s ... and given up (FATAL) after 5. Restarts and their causes are read back
from supervisord's own log.
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.cli.errors import CliError
from dockyard.cli.processes import Managed, log_tail, recorded_pid, spawn, stop, wait_until
from dockyard.cli.supervisor import (
    FATAL,
    RUNNING,
    STOPPED_STATES,
    SUPERVISED_BY,
    Exits,
    Program,
    ProgramState,
    read_tail,
)
from dockyard.settings import Settings

RPC_TIMEOUT_S = 10.0
SUPERVISORD_START_S = 15.0
SUPERVISORD_STOP_S = 60.0  # it stops every program first
SOCKET_PATH_MAX = 100  # a unix socket's path must fit in 108 bytes
LOG_MAX_BYTES = 50 * 1024 * 1024
LOG_BACKUPS = 5
# supervisord itself, kept running when a full disk fails its log writes (see that module).
MAIN = "dockyard.cli.supervisord_main"
EARLIER_MAIN = "supervisor.supervisord"  # what an earlier `up` ran, still recognised
MIN_FDS = 65536  # dockerd and etcd want many descriptors; programs inherit supervisord's limit


@dataclass(frozen=True)
class SupervisordPaths:
    config: Path
    programs: Path
    """One file per program (`NAME.conf`), included by `config`."""
    socket: Path
    log: Path
    process: Managed

    @classmethod
    def of(cls, settings: Settings) -> SupervisordPaths:
        state, run, logs = (
            settings.paths.state_dir, settings.paths.run_dir, settings.paths.logs_dir
        )  # fmt: skip
        config = state / "supervisor" / "supervisord.conf"
        sock = run / "supervisor.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:  # deep test directories: a short path of its own
            digest = hashlib.sha256(str(state).encode()).hexdigest()[:16]
            sock = Path(f"/tmp/dockyard-supervisor-{digest}.sock")  # noqa: S108
        argv = (sys.executable, "-m", MAIN, "--nodaemon", "-c", str(config))
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


def _with_main(argv: tuple[str, ...], main: str) -> tuple[str, ...]:
    return tuple(main if arg == MAIN else arg for arg in argv)


def render_supervisord(paths: SupervisordPaths) -> str:
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


class Supervisord:
    """This host's supervisord (a HostSupervisor)."""

    def __init__(self, paths: SupervisordPaths) -> None:
        earlier = replace(paths.process, argv=_with_main(paths.process.argv, EARLIER_MAIN))
        if recorded_pid(paths.process) is None and recorded_pid(earlier) is not None:
            paths = replace(paths, process=earlier)  # until `down` ends it
        self.paths = paths
        self.mark = f"{SUPERVISED_BY}={paths.config}"
        """In every program's environment: which supervisor started it."""

    # -- the supervisor itself ----------------------------------------------------------------

    def pid(self) -> int | None:
        """supervisord's PID while it runs."""
        return recorded_pid(self.paths.process)

    def describe(self) -> str:
        pid = self.pid()
        return f"supervisord pid {pid}" if pid else "supervisord is not running"

    def exits(self) -> dict[str, Exits]:
        return exits_from_log(read_tail(self.paths.log)) if self.pid() else {}

    def log_lines(self, process: Managed) -> list[str]:
        return read_tail(process.log_file, max_bytes=256 * 1024)

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
        return None if self.any_configured() else self.shutdown()

    def _answers(self) -> bool:
        try:
            return bool(self._call("supervisor.getState")["statename"] == RUNNING)
        except CliError:
            return False

    # -- programs -----------------------------------------------------------------------------

    def configured(self, name: str) -> bool:
        return self._file(name).exists()

    def any_configured(self) -> bool:
        return any(self.paths.programs.glob("*.conf"))

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
        return ProgramState(
            name=name,
            state=str(info["statename"]),
            pid=int(info["pid"]),
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


_EVENT = re.compile(
    r"^(?P<at>\S+ \S+?),\d+ \w+ (?P<kind>exited|gave up|spawned): '?(?P<name>[\w.-]+)'?"
    r"(?: \((?P<how>[^;)]*)(?P<unexpected>; not expected)?\))?"
)


def exits_from_log(log_lines: Iterable[str]) -> dict[str, Exits]:
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
