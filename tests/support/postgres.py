"""A PostgreSQL server for tests, and one fresh database per test.

If DOCKYARD_TEST_POSTGRES_URL is set (`./run tests` starts a cluster and exports it), that server
is used. Otherwise the first test that needs PostgreSQL starts a throwaway cluster with Debian's
`initdb` and `pg_ctl` in a temp dir, listening only on a unix socket there (no TCP port to race
for), trust auth, durability off; it is stopped by PID at session end. As root the cluster runs
as `nobody`, because PostgreSQL refuses to run as root.

The shell can do the same for a whole run:

    URL="$(python -m tests.support.postgres start DIR)"   # DIR: absent or empty; prints the URL
    python -m tests.support.postgres stop DIR             # stops the server, removes DIR

Without the binaries the PostgreSQL tests are skipped, except under CI (env CI set): there they
fail, because CI must run them.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

URL_VARIABLE = "DOCKYARD_TEST_POSTGRES_URL"
USER = "dockyard"  # the cluster's superuser; trust auth, so no password
ROOTLESS_USER = "nobody"  # who runs the cluster when the tests run as root
BIN_GLOB = "/usr/lib/postgresql/*/bin"
# Each test database runs in a zone far from UTC, as a production server in a local zone would,
# so a timestamp handed back in the server's zone instead of UTC fails the tests.
TEST_TIMEZONE = "Asia/Kolkata"
_STOP_WAIT_S = 15.0


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server is configured and no initdb/pg_ctl is installed to start one."""


def find_bin() -> Path:
    """The newest installed PostgreSQL bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = [Path(p) for p in glob.glob(BIN_GLOB) if (Path(p) / "pg_ctl").exists()]
    if not found:
        raise PostgresMissingError(
            f"no PostgreSQL server binaries in {BIN_GLOB} and {URL_VARIABLE} is not set: "
            "install Debian's postgresql (apt-get install postgresql) or point "
            f"{URL_VARIABLE} at a server (postgresql+psycopg://USER@HOST/DB)"
        )
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _as_owner() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a user it accepts."""
    return ["runuser", "-u", ROOTLESS_USER, "--"] if os.geteuid() == 0 else []


def server_url(directory: Path) -> str:
    """URL of the `postgres` database of the cluster in `directory`, over its unix socket."""
    return f"postgresql+psycopg://{USER}@/postgres?host={directory}"


def start(directory: Path) -> str:
    """Start a throwaway cluster in `directory` (absent or empty; its parents must be open to
    the cluster's user) and return its server URL. On failure nothing is left running and the
    error carries the server log's tail."""
    bin_dir = find_bin()
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(directory, pwd.getpwnam(ROOTLESS_USER).pw_uid, -1)
    data, log = directory / "data", directory / "server.log"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8"]
    _run([*_as_owner(), *initdb, "--no-locale", "--no-sync", "--no-instructions"], what="initdb")
    # No TCP at all, and no durability: a test cluster is thrown away, and speed matters.
    # wal_level=minimal makes CREATE DATABASE, done once per test, about a third faster.
    options = (
        f"-c listen_addresses='' -k '{directory}' -c max_connections=200 -c fsync=off "
        "-c full_page_writes=off -c synchronous_commit=off -c wal_level=minimal "
        "-c max_wal_senders=0"
    )
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30", "-s"]
    try:
        _run([*_as_owner(), *pg_ctl, "-o", options, "start"], what="pg_ctl start")
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        stop(directory)
        raise RuntimeError(f"{exc}\n{tail}") from None
    return server_url(directory)


def _run(command: list[str], *, what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


def stop(directory: Path) -> None:
    """Stop the cluster in `directory` by the PID in its postmaster.pid, then remove `directory`.

    A fast shutdown (SIGINT) first; SIGKILL if it is still there after a few seconds.
    """
    pid = _postmaster_pid(directory / "data")
    if pid is not None:
        _signal(pid, signal.SIGINT)
        deadline = time.monotonic() + _STOP_WAIT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def _postmaster_pid(data: Path) -> int | None:
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    # Never signal a recycled PID that is no longer this cluster's postmaster.
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in cmdline and b"<defunct>" not in cmdline


def _signal(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signum)


# --- pytest fixtures (imported by the conftest.py of suites that use PostgreSQL) ---------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server whose user may create databases; skipped if there is none."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    directory = Path(tempfile.mkdtemp(prefix="dockyard-test-pg."))
    try:
        url = start(directory)
    except PostgresMissingError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))
    try:
        yield url
    finally:
        stop(directory)


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """URL of a new, empty database on `postgres_server`, dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url


@contextmanager
def fresh_database(server: str, *, template: str | None = None) -> Iterator[str]:
    """URL of a new database on `server` (a copy of database `template` if given, which must
    have no open connections), dropped on exit. Its TimeZone is TEST_TIMEZONE."""
    name = f"dockyard_test_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
            connection.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO '{TEST_TIMEZONE}'"))
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            # FORCE: a test that failed half-way may have left a connection open.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def main(argv: list[str]) -> int:
    """`start DIR` prints the server URL; `stop DIR` stops it and removes DIR."""
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.support.postgres start|stop DIR", file=sys.stderr)
        return 2
    directory = Path(argv[1]).resolve()
    if argv[0] == "stop":
        stop(directory)
        return 0
    try:
        print(start(directory))
    except (PostgresMissingError, RuntimeError) as exc:
        print(f"postgres: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
