"""Git repositories Dockyard hosts itself: one bare repository per service, pushed to over HTTP.

A service's hosted repository is `HOSTED_DIR/TEAM/SERVICE.git`, created on first use (a clone,
a fetch or a push). The builder reads it as the `file://` source it is, like any other.

A repository belongs to one service, not to a name: a marker file records the service's id and
creation time. A deleted service's repository is moved aside to `TEAM/.deleted/SERVICE-...git`
by the builder's sweep (or by a namesake created before the sweep came by, on first use: the
namesake starts empty), and removed from there after `retired_keep_s`: the team has that long to
ask the platform team for its history back.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dockyard.domain.ids import check_name
from dockyard.domain.source import check_ref
from dockyard.store.disk import writing
from dockyard.store.models import ServiceRow

REMOTE_PREFIX = "/git"
GIT_TIMEOUT_S = 30.0
MARKER = "dockyard-service"
"""The file in a hosted repository naming the service it belongs to (git ignores it)."""
RETIRED_DIR = ".deleted"
"""Under TEAM/: repositories of deleted services (no service name starts with a dot)."""


@dataclass(frozen=True)
class RepoOwner:
    """The one service a hosted repository belongs to. The id alone is not enough: SQLite
    gives a purged service's id to the next service created, so its creation time counts too."""

    service_id: int
    created: datetime

    @property
    def marker(self) -> str:
        return f"service {self.service_id} created {self.created.isoformat()}"

    @classmethod
    def of(cls, row: ServiceRow) -> RepoOwner:
        """The service `row` as the owner of its hosted repository."""
        return cls(service_id=row.id, created=row.created_at)

    @classmethod
    def parse(cls, marker: str) -> RepoOwner | None:
        """The owner a marker names; None for a marker of no known form."""
        found = _MARKER_FORM.match(marker)
        if found is None:
            return None
        try:
            created = datetime.fromisoformat(found.group(2))
        except ValueError:
            return None
        return cls(service_id=int(found.group(1)), created=created)


_MARKER_FORM = re.compile(r"^service (\d+) created (\S+)$")


def git_env() -> dict[str, str]:
    """The whole environment of git run on hosted repositories: none of the server's own
    variables (they may hold secrets), no system or user configuration, no prompts."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
    }


def remote_path(team: str, service: str) -> str:
    """The path of the service's git remote on the server: append it to the server's URL."""
    return f"{REMOTE_PREFIX}/{team}/{service}.git"


def remote_url(server_url: str, team: str, service: str) -> str:
    """The service's git remote for clients reaching the server at `server_url`."""
    return server_url.rstrip("/") + remote_path(team, service)


class HostedRepos:
    """The hosted repositories under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, team: str, service: str) -> Path:
        """Where `team/service`'s repository lives (names are checked: no path tricks)."""
        check_name(team, field="team")
        check_name(service, field="service")
        return self.root / team / f"{service}.git"

    def url(self, team: str, service: str) -> str:
        """The repository as a source: what the builder fetches."""
        return f"file://{self.path(team, service)}"

    def ensure(self, team: str, service: str, *, owner: RepoOwner, branch: str = "main") -> Path:
        """`owner`'s repository, created first if it does not exist (HEAD naming `branch`).

        A repository left by another service of this name (deleted since) is moved aside to
        `TEAM/.deleted/` first, so `owner` never sees its history; one without a marker (made
        before markers were written) is taken as `owner`'s. Creators and movers at once are
        serialised by a lock on the team's directory; a new repository is made aside and
        renamed into place. After success the repository exists and is `owner`'s; after
        failure nothing half-made is in place (DiskFull if the disk has no space for it).
        """
        final = self.path(team, service)
        if _marker(final) == owner.marker:
            return final  # the common case: no lock
        with writing(self.root):
            final.parent.mkdir(parents=True, exist_ok=True)
            return self._ensure(final, service=service, owner=owner, branch=branch)

    def _ensure(self, final: Path, *, service: str, owner: RepoOwner, branch: str) -> Path:
        with _locked(final.parent):
            found = _marker(final)
            if found == owner.marker:
                return final
            if found == "":  # a repository from before markers: the live service's
                _write_marker(final, owner)
                return final
            if found is not None:
                self._retire(final, service=service, marker=found)
            self._create(final, owner=owner, branch=branch)
        return final

    def _create(self, final: Path, *, owner: RepoOwner, branch: str) -> None:
        aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            made = _git(
                "init", "--bare", "--quiet", "--template=", f"--initial-branch={check_ref(branch)}",
                str(aside), check=False,
            )  # fmt: skip
            if made.returncode != 0 and os.strerror(errno.ENOSPC) in made.stderr:
                raise OSError(errno.ENOSPC, made.stderr.strip())  # git says so only in words
            made.check_returncode()
            _write_marker(aside, owner)
            os.rename(aside, final)
        finally:
            shutil.rmtree(aside, ignore_errors=True)

    def _retire(self, final: Path, *, service: str, marker: str) -> Path:
        """Move a deleted service's repository to `TEAM/.deleted/SERVICE-<its marker>-*.git`."""
        retired = final.parent / RETIRED_DIR
        retired.mkdir(exist_ok=True)
        slug = re.sub(r"[^0-9A-Za-z]+", "-", marker).strip("-")[:80]
        # An empty directory of a unique name, which rename(2) replaces with the repository.
        target = Path(tempfile.mkdtemp(prefix=f"{service}-{slug}-", suffix=".git", dir=retired))
        os.rename(final, target)
        return target

    def markers(self) -> dict[Path, str]:
        """Every hosted repository that has a marker, and the marker."""
        found = {}
        for repo in sorted(self.root.glob("*/*.git")):
            marker = _marker(repo)
            if marker:
                found[repo] = marker
        return found

    def retire(self, repo: Path, *, marker: str) -> bool:
        """Move `repo` (a live path) aside if it still carries `marker`: its service is gone.
        False if it changed meanwhile (a namesake took the name) or is gone."""
        with _locked(repo.parent):
            if _marker(repo) != marker:
                return False
            target = self._retire(repo, service=repo.name.removesuffix(".git"), marker=marker)
        os.utime(target)  # dated now: the keep time counts from here
        return True

    def purge_retired(self, *, older_than: float) -> int:
        """Remove retired repositories last touched before `older_than` (a time.time());
        how many were removed."""
        removed = 0
        for repo in sorted(self.root.glob(f"*/{RETIRED_DIR}/*.git")):
            with contextlib.suppress(FileNotFoundError):
                if repo.stat().st_mtime < older_than:
                    shutil.rmtree(repo)
                    removed += 1
        return removed

    def head(self, team: str, service: str, branch: str) -> str | None:
        """The commit `branch` points to in the hosted repository; None if it does not exist."""
        path = self.path(team, service)
        if not (path / "HEAD").exists():
            return None
        done = _git(
            f"--git-dir={path}", "rev-parse", "--verify", "--quiet",
            f"refs/heads/{check_ref(branch)}^{{commit}}",
            check=False,
        )  # fmt: skip
        return done.stdout.strip() or None if done.returncode == 0 else None


def _marker(repo: Path) -> str | None:
    """Whose `repo` is: its marker; "" for a repository without one; None for no repository."""
    try:
        return (repo / MARKER).read_text().strip()
    except FileNotFoundError:
        return "" if (repo / "HEAD").exists() else None


def _write_marker(repo: Path, owner: RepoOwner) -> None:
    partial = repo / f".{MARKER}.tmp"
    partial.write_text(owner.marker + "\n")
    os.replace(partial, repo / MARKER)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (flock: also between server processes)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        env=git_env(),
        check=check,
    )
