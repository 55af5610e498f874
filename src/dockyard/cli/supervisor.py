"""The supervisor of this host's processes: the seam `dockyard up`, `down` and `status` use.

Every long-running process `dockyard up` starts (dockerd when it starts one, the registry, etcd,
nats-server, the server, the log center's consumers, the DNS names, the agent, the balancer,
Alertmanager, Prometheus) is a *program* of this host's supervisor, which restarts it whenever
it ends, however it ends. Two supervisors keep that promise, chosen by DOCKYARD_SUPERVISOR
("auto": systemd where it is the init system, else supervisord; cli/supervision.py picks):

- systemd (cli/systemd.py): a unit per program, `Restart=always`, ordered, with limits, logging
  to the journal;
- supervisord (cli/supervisord.py): PyPI's `supervisor`, installed with Dockyard, for hosts and
  containers without systemd, run by `dockyard up` with a configuration Dockyard writes.

Either way a program that cannot stay up is backed off and, after a few quick exits, given up
and reported by `dockyard status`, never restarted in a hot loop; `dockyard up` tries it again.
Programs do not start by themselves with their supervisor: `up` starts them one at a time, in
order, each once the one before answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dockyard.cli.processes import Managed

START_S = 10
"""A program must stay up this long for its start to count; quicker exits are backed off."""
START_RETRIES = 5
SUPERVISED_BY = "DOCKYARD_SUPERVISED_BY"
"""Put in every program's environment, naming the supervisor that started it."""
START_ORDER = (
    "dockerd",
    "registry",
    "etcd",
    "nats",
    "server",
    "indexer",
    "archiver",
    "drainer",
    "names",
    "pdns",
    "dnsmasq",
    "agent",
    "balancer",
    "alertmanager",
    "prometheus",
)
"""The order `up` starts programs in (each once the one before answers); `down` stops them in
the reverse order."""
RUNNING, STARTING, BACKOFF, FATAL = "RUNNING", "STARTING", "BACKOFF", "FATAL"
STOPPED_STATES = frozenset({"STOPPED", "EXITED", FATAL})


@dataclass(frozen=True)
class Program:
    """One process the supervisor keeps running."""

    process: Managed
    """Its name, command and log file."""
    stop_s: float
    """How long it may take to stop after SIGTERM before it is killed (with its group)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables it gets on top of the supervisor's own environment."""
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
    """What the supervisor says of one program now."""

    name: str
    state: str
    """RUNNING, STARTING, BACKOFF (waiting to start again), STOPPED, EXITED or FATAL (given up)."""
    pid: int
    description: str
    """The supervisor's own words ("pid 12, uptime 0:01:02", "Exited too quickly ...")."""

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def alive(self) -> bool:
        """Running, or started and not yet past its start time."""
        return self.state in (RUNNING, STARTING)


@dataclass(frozen=True)
class Exits:
    """A program's exits that nobody asked for, since its supervisor last started."""

    count: int = 0
    last: str | None = None
    """When and how the last one happened: "2026-12-06 15:11:47: exit status 3"."""
    gave_up: bool = False
    """The supervisor stopped trying after repeated quick exits (FATAL)."""


class HostSupervisor(Protocol):
    """The verbs `up`, `down` and `status` need from a supervisor."""

    mark: str
    """`SUPERVISED_BY=...` as put in every program's environment."""

    def pid(self) -> int | None:
        """The supervising process's PID while it runs (1 for systemd), else None."""

    def describe(self) -> str:
        """One line for `dockyard status`."""

    def ensure_running(self, *, env: dict[str, str]) -> int:
        """Start the supervisor itself unless it runs; returns `pid()`. Programs it starts
        later inherit `env` (where the supervisor passes its own environment on)."""

    def shutdown(self) -> int | None:
        """Stop every program, then the supervisor if `up` started it; returns its PID."""

    def shutdown_if_idle(self) -> int | None:
        """`shutdown` if no program is left configured."""

    def configured(self, name: str) -> bool:
        """True if an earlier `up` made `name` one of this supervisor's programs."""

    def any_configured(self) -> bool: ...

    def install(self, program: Program) -> bool:
        """Make `program` one of the supervisor's, as written; True if that changed anything.
        A running program whose command or environment changed is stopped: `start` it."""

    def uninstall(self, name: str) -> int | None:
        """Stop the program and forget it; returns the PID it had, if it ran."""

    def state(self, name: str) -> ProgramState | None:
        """The program's state, or None if the supervisor does not know it (or is not running)."""

    def start(
        self, program: Program, *, answers: Callable[[], bool], timeout_s: float, failure: str
    ) -> int:
        """Start the program unless it runs (one that was given up is tried again), and wait
        until `answers` holds; returns its PID. If it does not answer within `timeout_s` it is
        stopped (nothing half-started stays) and CliError says "<failure>: see <its log>: ..."."""

    def stop(self, name: str) -> int | None:
        """Stop the program (SIGTERM, then SIGKILL after its stop time); returns the PID it
        had, or None if it was not running."""

    def exits(self) -> dict[str, Exits]:
        """Each program's exits that nobody asked for, since the supervisor last started."""

    def log_lines(self, process: Managed) -> list[str]:
        """The last lines the process logged (its log file, or the journal)."""


def read_tail(path: Path, max_bytes: int = 1 << 20) -> list[str]:
    """The last lines of a log file (at most `max_bytes` of it); none if there is no file."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - max_bytes))
            return file.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
