"""Fixtures of the CLI tests: a fake API (see fake_api.py) and a runner wired to it."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.context import CliEnv
from dockyard.settings import ClientCredentials, write_credentials
from tests.integration.cli.fake_api import ADMIN_TOKEN, FakeApi

LOCAL_URL = "http://127.0.0.1:8420"


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs `dockyard ARGS` in-process with its own HOME, state dir and network transport."""

    api: FakeApi
    home: Path
    environ: dict[str, str]
    use_fake_network: bool = True

    @property
    def credentials_file(self) -> Path:
        return Path(self.environ["DOCKYARD_CREDENTIALS_FILE"])

    @property
    def config_file(self) -> Path:
        return Path(self.environ["DOCKYARD_CONFIG"])

    def __call__(self, *args: str, **overrides: object) -> Result:
        env = CliEnv(
            environ=self.environ,
            transport=self.api.transport() if self.use_fake_network else None,
            poll_interval_s=0.0,
            sleep=lambda _s: None,
            uid=1000,
        )
        env = dataclasses.replace(env, **overrides)  # type: ignore[arg-type]
        result = CliRunner().invoke(app, list(args), obj=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback the user would have seen: fail loudly
        return Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def cli(api: FakeApi, tmp_path: Path) -> Cli:
    """A CLI whose host credentials file holds the admin token (as after `dockyard up`)."""
    environ = {
        "HOME": str(tmp_path / "home"),
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "etc" / "credentials.json"),
        "DOCKYARD_CONFIG": str(tmp_path / "home" / "config.json"),
    }
    write_credentials(
        Path(environ["DOCKYARD_CREDENTIALS_FILE"]), ClientCredentials(LOCAL_URL, ADMIN_TOKEN)
    )
    return Cli(api=api, home=tmp_path / "home", environ=environ)


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function returning a loopback TCP port nobody listens on (right now)."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return pick
