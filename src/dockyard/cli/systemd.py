"""systemd as this host's supervisor (cli/supervisor.py): one unit per program.

`dockyard up` writes `dockyard-NAME.service` into DOCKYARD_SYSTEMD_UNIT_DIR (/etc/systemd/system),
reloads systemd, enables the unit (so it starts at boot) and starts it. Each unit restarts its
program whenever it ends (`Restart=always`, 2 s apart), is ordered after the programs `up` starts
before it, raises the descriptor limit, logs to the journal (`journalctl -u dockyard-NAME`), and
gives up (`failed`, start-limit-hit) after `START_LIMIT_BURST` starts in
`START_LIMIT_INTERVAL_S`: that is FATAL to `dockyard status`, and `up` resets and starts it again.

This project's own machines do not run systemd as their init system: there the units are checked
with `systemd-analyze verify` and the reading of `systemctl show` by a table of its output; the
verbs themselves (daemon-reload, enable, start, stop) have not run here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from dockyard.cli.errors import CliError
from dockyard.cli.processes import Managed, wait_until
from dockyard.cli.supervisor import (
    BACKOFF,
    FATAL,
    RUNNING,
    START_ORDER,
    STARTING,
    SUPERVISED_BY,
    Exits,
    Program,
    ProgramState,
)
from dockyard.settings import Settings

SYSTEMCTL_TIMEOUT_S = 30.0
RESTART_S = 2
START_LIMIT_BURST = 10
START_LIMIT_INTERVAL_S = 120
LIMIT_NOFILE = 1048576
UNIT_PREFIX = "dockyard-"
SHOWN = (
    "LoadState", "ActiveState", "SubState", "Result", "MainPID", "NRestarts",
    "ExecMainCode", "ExecMainStatus", "ExecMainExitTimestamp",
)  # fmt: skip
CLD_EXITED, CLD_KILLED, CLD_DUMPED = "1", "2", "3"  # ExecMainCode: how the process ended


def unit_name(program: str) -> str:
    return f"{UNIT_PREFIX}{program}.service"


def render_unit(program: Program, *, mark: str) -> str:
    """The unit file of `program` (pure)."""
    earlier = START_ORDER[: START_ORDER.index(program.name)] if program.name in START_ORDER else ()
    after = " ".join(["network-online.target", *(unit_name(name) for name in earlier)])
    key, _, value = mark.partition("=")
    environment = {**program.environment, key: value}
    lines = [
        "[Unit]",
        f"Description=Dockyard {program.name}",
        f"After={after}",
        "Wants=network-online.target",
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_S}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_quote(arg) for arg in program.process.argv),
        *(f"Environment={_quote(f'{k}={v}')}" for k, v in sorted(environment.items())),
        "Restart=always",
        f"RestartSec={RESTART_S}",
        f"TimeoutStopSec={int(program.stop_s)}",
        # dockerd alone: its containers' shims must outlive it (as Debian's docker.service).
        f"KillMode={'control-group' if program.signal_group else 'process'}",
        f"LimitNOFILE={LIMIT_NOFILE}",
        "StandardOutput=journal",
        "StandardError=journal",
        f"SyslogIdentifier={UNIT_PREFIX}{program.name}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def _quote(arg: str) -> str:
    """One word as systemd reads it back: quoted, specifiers (%) and variables ($) literal."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    if escaped and all(c.isalnum() or c in "/._-=:,@+" for c in escaped):
        return escaped
    return f'"{escaped}"'


def parse_show(name: str, text: str) -> tuple[ProgramState | None, Exits]:
    """A program's state and restarts from `systemctl show -p ...` output (pure)."""
    shown = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if shown.get("LoadState", "not-found") == "not-found":
        return None, Exits()
    active, sub, result = shown.get("ActiveState"), shown.get("SubState"), shown.get("Result")
    if active == "active":
        state = RUNNING
    elif active == "activating":
        state = BACKOFF if sub == "auto-restart" else STARTING
    elif active == "failed":
        state = FATAL
    else:
        state = "STOPPED"
    pid = int(shown.get("MainPID") or 0)
    description = f"{active}/{sub}" + (
        f", result {result}" if result not in (None, "success") else ""
    )
    restarts = int(shown.get("NRestarts") or 0)
    last = _last_exit(shown) if restarts or state == FATAL else None
    return (
        ProgramState(name=name, state=state, pid=pid, description=description),
        Exits(count=restarts, last=last, gave_up=state == FATAL),
    )


def _last_exit(shown: dict[str, str]) -> str | None:
    code, status = shown.get("ExecMainCode"), shown.get("ExecMainStatus", "")
    at = shown.get("ExecMainExitTimestamp") or "?"
    if code == CLD_EXITED:
        return f"{at}: exit status {status}"
    if code in (CLD_KILLED, CLD_DUMPED):
        return f"{at}: terminated by signal {status}"
    return None


class Systemd:
    """systemd units for this host's programs (a HostSupervisor)."""

    def __init__(self, settings: Settings) -> None:
        self._dir = settings.supervisor.unit_dir
        self.mark = f"{SUPERVISED_BY}=systemd:{self._dir}"

    def pid(self) -> int | None:
        return 1

    def describe(self) -> str:
        return f"systemd, units {self._dir}/{UNIT_PREFIX}*.service"

    def ensure_running(self, *, env: dict[str, str]) -> int:
        return 1  # systemd is the init system; a unit's environment is its own

    def shutdown(self) -> int | None:
        for name in reversed(START_ORDER):
            if self.configured(name):
                self.stop(name)
        return None  # systemd itself goes on

    def shutdown_if_idle(self) -> int | None:
        return None

    def configured(self, name: str) -> bool:
        return self._file(name).exists()

    def any_configured(self) -> bool:
        return any(self._dir.glob(f"{UNIT_PREFIX}*.service"))

    def install(self, program: Program) -> bool:
        text = render_unit(program, mark=self.mark)
        path = self._file(program.name)
        if path.exists() and path.read_text() == text:
            return False
        running = self.state(program.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(path)
        self._systemctl("daemon-reload")
        self._systemctl("enable", unit_name(program.name))
        if running is not None and running.alive:
            self._systemctl("stop", unit_name(program.name))
        return True

    def uninstall(self, name: str) -> int | None:
        if not self.configured(name):
            return None
        pid = self.stop(name)
        self._systemctl("disable", unit_name(name))
        self._file(name).unlink()
        self._systemctl("daemon-reload")
        return pid

    def state(self, name: str) -> ProgramState | None:
        return self._show(name)[0]

    def exits(self) -> dict[str, Exits]:
        names = [p.name.removeprefix(UNIT_PREFIX).removesuffix(".service")
                 for p in self._dir.glob(f"{UNIT_PREFIX}*.service")]  # fmt: skip
        return {name: self._show(name)[1] for name in names}

    def log_lines(self, process: Managed) -> list[str]:
        try:
            return self._systemctl_like(
                ["journalctl", "-u", unit_name(process.name), "-n", "200", "--no-pager", "-o",
                 "cat"]
            ).splitlines()  # fmt: skip
        except CliError:
            return []

    def start(
        self, program: Program, *, answers: Callable[[], bool], timeout_s: float, failure: str
    ) -> int:
        unit = unit_name(program.name)
        current = self.state(program.name)
        if current is not None and current.state == FATAL:
            self._systemctl("reset-failed", unit)
        if current is None or not current.alive:
            self._systemctl("start", "--no-block", unit)

        def gave_up() -> bool:
            state = self.state(program.name)
            return state is None or state.state == FATAL

        if wait_until(answers, timeout_s=timeout_s, interval_s=0.1, give_up=gave_up):
            state = self.state(program.name)
            return state.pid if state else 0
        self.stop(program.name)
        tail = " | ".join(self.log_lines(program.process)[-3:]) or "(no output)"
        raise CliError(f"{failure}: see `journalctl -u {unit}`: {tail}")

    def stop(self, name: str) -> int | None:
        current = self.state(name)
        if current is None or not (current.alive or current.state == BACKOFF):
            return None
        self._systemctl("stop", unit_name(name))
        return current.pid or None

    def _show(self, name: str) -> tuple[ProgramState | None, Exits]:
        if not self.configured(name):
            return None, Exits()
        text = self._systemctl("show", unit_name(name), "-p", ",".join(SHOWN))
        return parse_show(name, text)

    def _file(self, name: str) -> Path:
        return self._dir / unit_name(name)

    def _systemctl(self, *args: str) -> str:
        return self._systemctl_like(["systemctl", *args])

    @staticmethod
    def _systemctl_like(argv: list[str]) -> str:
        """Run a systemd tool; its failure is a CliError with its own words."""
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CliError(f"`{' '.join(argv)}` failed: {exc}") from exc
        if done.returncode != 0:
            raise CliError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.stdout}")
        return done.stdout
