"""Which supervisor keeps this host's processes running, and `supervise`: one program of it
running and answering (cli/supervisor.py has the seam, supervisord.py and systemd.py the two)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.cli.processes import Managed, end, recorded_pid, stop, strays
from dockyard.cli.supervisor import HostSupervisor, Program
from dockyard.cli.supervisord import Supervisord, SupervisordPaths
from dockyard.cli.systemd import Systemd
from dockyard.settings import Settings

SYSTEMD_RUNNING = Path("/run/systemd/system")  # sd_booted(3): systemd is the init system
BASE_ENVIRONMENT = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "HTTP_PROXY",
                    "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")  # fmt: skip
"""What every program inherits from the `up` that started its supervisor, as a systemd service
would; anything else a program needs is in its own `Program.environment`. So an `up` from
another shell changes nothing, and one with other settings restarts just what they concern."""


def base_environment(environ: dict[str, str]) -> dict[str, str]:
    return {key: environ[key] for key in BASE_ENVIRONMENT if key in environ}


def host_supervisor(settings: Settings) -> HostSupervisor:
    """systemd where it is the init system (or where asked for), else supervisord."""
    kind = settings.supervisor.kind
    if kind == "systemd" or (kind == "auto" and SYSTEMD_RUNNING.is_dir()):
        return Systemd(settings)
    return Supervisord(SupervisordPaths.of(settings))


def claimed(supervisor: HostSupervisor, process: Managed) -> bool:
    """True if what answers for `process` is up's own: a program of the supervisor that runs
    (or starts), one whose supervisor is gone (its programs outlive it, and `supervise` takes
    them back), or a process an older `up` started without one (a live recorded PID).

    A program an earlier `up` made that its supervisor now has stopped or given up is not:
    whatever answers in its place was started by someone else (seen: an engine started by hand
    after `dockyard down`, which the platform's own dockerd then failed to start beside)."""
    if recorded_pid(process) is not None:
        return True
    if not supervisor.configured(process.name):
        return False
    if supervisor.pid() is None:
        return True
    state = supervisor.state(process.name)
    return state is None or state.alive


def disown(supervisor: HostSupervisor, process: Managed) -> None:
    """Forget a program of an earlier `up` that another process now stands in for, so that
    `status` does not report a part as failing that answers (see `claimed`)."""
    if supervisor.configured(process.name):
        supervisor.uninstall(process.name)


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
    supervisor = host_supervisor(settings)
    parent = supervisor.ensure_running(env=base_environment(env))
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
