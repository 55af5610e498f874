"""A service's repository, mirrored under the builder's work directory with the git program.

One bare mirror per service: each build fetches into it (incremental after the first), resolves
its ref there and exports the build context with `git archive`, so no working tree is checked
out and nothing of one build leaks into the next. A file lock per mirror keeps two builds of the
same service from fetching at once. Every failure is a `SourceError` whose message is the reason
a build shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dockyard.domain.source import looks_like_commit

FETCH_TIMEOUT_S = 600.0
LOCAL_TIMEOUT_S = 120.0
# Never ask for credentials on a terminal, never read the user's git config for credentials.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


class SourceError(Exception):
    """The source cannot give what the build needs: the message says what and why."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    message: str
    committed_at: datetime

    @property
    def short(self) -> str:
        return self.sha[:12]


class Mirror:
    """The bare mirror of one service's repository at `path`."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url

    @contextlib.contextmanager
    def locked(self) -> Iterator[Mirror]:
        """Hold the mirror for one build's fetch, resolve and export."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self

    def fetch(self) -> str:
        """Bring branches and tags up to date with the repository; git's output."""
        if not (self.path / "HEAD").exists():
            self._git("init", "--bare", "--quiet", str(self.path), cwd=self.path.parent)
        return self._git(
            "fetch", "--prune", "--force", "--no-write-fetch-head", self.url,
            "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
            timeout_s=FETCH_TIMEOUT_S,
            failure=f"cannot fetch {self.url}",
            with_stderr=True,
        )  # fmt: skip

    def resolve(self, ref: str) -> str:
        """The full commit `ref` names: a branch first, then a tag, then a commit id."""
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        if looks_like_commit(ref):
            candidates.append(ref)
        for name in candidates:
            found = self._try("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if found:
                return found
        raise SourceError(
            f"unknown ref {ref!r}: no branch, tag or commit of that name in {self.url}"
        )

    def commit(self, sha: str) -> Commit:
        text = self._git("log", "-1", "--format=%H%x00%an <%ae>%x00%cI%x00%B", sha)
        full, author, when, message = text.split("\x00", 3)
        return Commit(
            sha=full,
            author=author,
            message=message.strip(),
            committed_at=datetime.fromisoformat(when),
        )

    def read(self, sha: str, path: str) -> str:
        """The text of file `path` at commit `sha`."""
        return self._git("cat-file", "blob", f"{sha}:{path}", strip=False)

    def export(self, sha: str, *, context: str, into: Path) -> Path:
        """The build context (`context` directory at `sha`) as a tar file at `into`."""
        tree = sha if context in ("", ".") else f"{sha}:{context}"
        if context not in ("", ".") and self._try("cat-file", "-e", tree) is None:
            raise SourceError(f"the build context directory {context!r} is not in commit {sha}")
        into.parent.mkdir(parents=True, exist_ok=True)
        self._git("archive", "--format=tar", f"--output={into}", tree)
        return into

    # -- running git --------------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout_s: float = LOCAL_TIMEOUT_S,
        failure: str | None = None,
        with_stderr: bool = False,
        strip: bool = True,
    ) -> str:
        command = ["git", *args] if cwd else ["git", f"--git-dir={self.path}", *args]
        try:
            done = subprocess.run(
                command,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env={**os.environ, **GIT_ENV},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceError(
                f"{failure or 'git ' + args[0]}: no answer in {timeout_s:g} s"
            ) from exc
        if done.returncode != 0:
            detail = _last_lines(done.stderr) or f"git exited with {done.returncode}"
            raise SourceError(f"{failure or 'git ' + args[0] + ' failed'}: {detail}")
        # git reports progress and notices on stderr: part of a build's log, never of a value.
        if not strip:
            return done.stdout
        return (done.stdout + done.stderr).strip() if with_stderr else done.stdout.strip()

    def _try(self, *args: str) -> str | None:
        """git's output (maybe empty) if it succeeded, else None."""
        try:
            return self._git(*args)
        except SourceError:
            return None


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:] if line.strip())
