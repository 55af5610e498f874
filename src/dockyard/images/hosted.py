"""Git repositories Dockyard hosts itself: one bare repository per service, pushed to over HTTP.

A service's hosted repository is `HOSTED_DIR/TEAM/SERVICE.git`, created on first use (a clone,
a fetch or a push). The builder reads it as the `file://` source it is, like any other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from dockyard.domain.ids import check_name
from dockyard.domain.source import check_ref

REMOTE_PREFIX = "/git"
GIT_TIMEOUT_S = 30.0


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

    def ensure(self, team: str, service: str, *, branch: str = "main") -> Path:
        """The repository, created first if it does not exist (HEAD naming `branch`).

        Safe against creators at once: each makes a repository aside and renames it into
        place; renaming onto a repository that exists fails, and the loser's copy is removed.
        After success the repository exists; after failure nothing half-made is left in place.
        """
        final = self.path(team, service)
        if (final / "HEAD").exists():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f".{service}.", dir=final.parent))
        try:
            _git(
                "init", "--bare", "--quiet", "--template=", f"--initial-branch={check_ref(branch)}",
                str(aside),
            )  # fmt: skip
            with contextlib.suppress(OSError):  # another creator won: use theirs
                os.rename(aside, final)
        finally:
            shutil.rmtree(aside, ignore_errors=True)
        if not (final / "HEAD").exists():
            raise OSError(f"cannot create the hosted repository {final}")
        return final

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


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        env=git_env(),
        check=check,
    )
