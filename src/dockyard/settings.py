"""Every knob of Dockyard, grouped by the part it configures, read from the environment once.

This is the only module that reads environment variables: `Settings.from_env(os.environ)` is
called by the entry points (`dockyard server`, the CLI) and the resulting frozen objects are
passed down explicitly. An invalid value raises `Invalid` with a one-line message naming the
variable and saying what to use instead.

It also owns the client credentials file format (`{"url": ..., "token": ...}`, mode 0600), shared
by the server (which writes the admin token there at first start) and the CLI (which reads it,
and writes the same shape on `dockyard login`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dockyard.controller.config import ControllerSettings
from dockyard.domain.errors import Invalid

T = TypeVar("T")

DEFAULT_PORT = 8420
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class PathSettings:
    state_dir: Path
    """Where the platform keeps its database, logs and PID files (DOCKYARD_STATE_DIR)."""
    credentials_file: Path
    """The local admin credentials the server writes at first start (DOCKYARD_CREDENTIALS_FILE)."""

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """PID files of the processes `dockyard up` started."""
        return self.state_dir / "run"


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    """sqlite:///PATH (default) or postgresql+psycopg://USER@HOST/DB (DOCKYARD_DATABASE_URL)."""


@dataclass(frozen=True)
class ListenSettings:
    host: str
    """Address the server binds (DOCKYARD_LISTEN_HOST)."""
    port: int
    """TCP port the server binds (DOCKYARD_LISTEN_PORT)."""

    @property
    def local_url(self) -> str:
        """The URL a client on this host uses to reach the server."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class DockerSettings:
    host: str
    """The engine API: unix:///PATH or tcp://HOST:PORT (DOCKYARD_DOCKER_HOST)."""
    host_is_default: bool
    """True when DOCKYARD_DOCKER_HOST was not set: only then may `dockyard up` start dockerd."""
    network: str
    """The bridge network instances join (DOCKYARD_DOCKER_NETWORK)."""
    parallel_starts: int
    """Container starts at once; dockerd tops out at 3-4 starts/s (DOCKYARD_PARALLEL_STARTS)."""


@dataclass(frozen=True)
class ClientSettings:
    url: str | None
    """Server URL overriding the stored login (DOCKYARD_URL)."""
    token: str | None
    """API token overriding the stored login (DOCKYARD_TOKEN)."""
    config_file: Path
    """Where `dockyard login` stores {url, token} (DOCKYARD_CONFIG)."""


@dataclass(frozen=True)
class Settings:
    paths: PathSettings
    database: DatabaseSettings
    listen: ListenSettings
    docker: DockerSettings
    controller: ControllerSettings
    client: ClientSettings
    log_level: str
    """One of debug, info, warning, error, critical (DOCKYARD_LOG_LEVEL)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, uid: int | None = None) -> Settings:
        """Settings from `environ`; defaults depend on whether `uid` (default: ours) is root.

        Raises Invalid (field = the variable's name) on the first bad value.
        """
        env = _Reader(environ)
        is_root = (os.geteuid() if uid is None else uid) == 0
        home = Path(environ.get("HOME") or Path.home())
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        default_state = Path("/var/lib/dockyard") if is_root else home / ".local/share/dockyard"
        state_dir = env.get("DOCKYARD_STATE_DIR", _path, default_state)
        default_creds = (
            Path("/etc/dockyard/credentials.json")
            if is_root
            else config_home / "dockyard" / "credentials.json"
        )
        return cls(
            paths=PathSettings(
                state_dir=state_dir,
                credentials_file=env.get("DOCKYARD_CREDENTIALS_FILE", _path, default_creds),
            ),
            database=DatabaseSettings(
                url=env.get(
                    "DOCKYARD_DATABASE_URL", _database_url, f"sqlite:///{state_dir}/dockyard.db"
                )
            ),
            listen=ListenSettings(
                host=env.get("DOCKYARD_LISTEN_HOST", _nonempty, "127.0.0.1"),
                port=env.get("DOCKYARD_LISTEN_PORT", _int_in(1, 65535), DEFAULT_PORT),
            ),
            docker=DockerSettings(
                host=env.get("DOCKYARD_DOCKER_HOST", _docker_host, DEFAULT_DOCKER_HOST),
                host_is_default="DOCKYARD_DOCKER_HOST" not in environ,
                network=env.get("DOCKYARD_DOCKER_NETWORK", _nonempty, "dockyard"),
                parallel_starts=env.get("DOCKYARD_PARALLEL_STARTS", _int_in(1, 64), 4),
            ),
            controller=ControllerSettings(
                resync_s=env.get("DOCKYARD_RESYNC_INTERVAL_S", _seconds(0.1, 3600), 10.0),
                orphan_grace_s=env.get("DOCKYARD_ORPHAN_GRACE_S", _seconds(0, 86400), 30.0),
                progress_deadline_s=env.get(
                    "DOCKYARD_PROGRESS_DEADLINE_S", _seconds(1, 86400), 120.0
                ),
            ),
            client=ClientSettings(
                url=env.get("DOCKYARD_URL", _http_url, None),
                token=env.get("DOCKYARD_TOKEN", _nonempty, None),
                config_file=env.get(
                    "DOCKYARD_CONFIG", _path, config_home / "dockyard" / "config.json"
                ),
            ),
            log_level=env.get("DOCKYARD_LOG_LEVEL", _log_level, "info"),
        )


class _Reader:
    """Reads one variable at a time, turning a parser's ValueError into Invalid(field=name)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._environ.get(name)
        if raw is None:
            return default
        try:
            return parse(raw.strip())
        except ValueError as exc:
            raise Invalid(f"{name}={raw!r} is invalid: {exc}", field=name) from None


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError("it is empty: set a value or unset the variable")
    return raw


def _path(raw: str) -> Path:
    path = Path(_nonempty(raw)).expanduser()
    if not path.is_absolute():
        raise ValueError("use an absolute path")
    return path


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"use a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"use a whole number from {low} to {high}")
        return value

    return parse


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"use a number of seconds from {low:g} to {high:g}") from None
        if not low <= value <= high:  # also refuses nan
            raise ValueError(f"use a number of seconds from {low:g} to {high:g}")
        return value

    return parse


def _database_url(raw: str) -> str:
    # Plain postgresql:// would pick psycopg2, which is not installed: name the driver.
    if not raw.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return raw


def _docker_host(raw: str) -> str:
    if not (raw.startswith("unix:///") or raw.startswith("tcp://")):
        raise ValueError("use unix:///PATH/docker.sock or tcp://HOST:PORT")
    return raw


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or len(raw) <= len("https://"):
        raise ValueError("use http://HOST:PORT or https://HOST")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    if raw.lower() not in LOG_LEVELS:
        raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
    return raw.lower()


@dataclass(frozen=True)
class ClientCredentials:
    """What a client needs to call the API: the server's URL and a bearer token."""

    url: str
    token: str


def read_credentials(path: Path) -> ClientCredentials | None:
    """The credentials stored at `path`, or None if there are none we may read.

    A file we lack permission to read (the root-only local credentials, for a non-root user)
    counts as none. A malformed file raises Invalid naming it.
    """
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise Invalid(
            f"cannot read credentials file {path}: {exc}; fix it or delete it and log in again",
            field="credentials",
        ) from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("url"), str)
        and isinstance(data.get("token"), str)
    ):
        raise Invalid(
            f"credentials file {path} lacks a string url and token; "
            "delete it and log in again with `dockyard login URL --token TOKEN`",
            field="credentials",
        )
    return ClientCredentials(url=data["url"].rstrip("/"), token=data["token"])


def write_credentials(path: Path, credentials: ClientCredentials) -> None:
    """Store `credentials` at `path`, readable by the owner only (file 0600, new folders 0700).

    The file is replaced atomically, so a reader never sees half a token.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"url": credentials.url, "token": credentials.token}, file, indent=2)
        file.write("\n")
    os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by umask; be exact
    os.replace(temporary, path)
