"""The branches and tags of a git repository on this host, read from its files, not by git.

A build from a local repository (`file://`, Dockyard's hosted remotes) needs one ref resolved:
reading it from the repository's ref files costs a file read, where `git ls-remote` costs two
processes, and no git program ever runs inside a repository whose configuration a team
controls. Only git's "files" ref storage (loose refs plus `packed-refs`, the default) is read;
a repository stored otherwise (reftable) is not `readable`, and the caller fetches instead.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

_OBJECT_ID = re.compile(r"^[0-9a-f]{40}$")
_MAX_SYMREF_DEPTH = 5  # git's own limit is 5 levels of symbolic refs


def git_dir(root: Path) -> Path | None:
    """The git directory of the repository at `root` (bare, or a working tree's `.git`) if its
    refs and objects can be read here; None otherwise (then fetch it)."""
    for candidate in (root, root / ".git"):
        if (candidate / "objects").is_dir() and (candidate / "HEAD").is_file():
            return candidate if _plain(candidate) else None
    return None


def read_ref(repository: Path, name: str) -> str | None:
    """The object id the full ref `name` (e.g. `refs/heads/main`) names in the git directory
    `repository`, following symbolic refs; None if there is no such ref.

    The loose ref is read before `packed-refs`: `git pack-refs` writes `packed-refs` before it
    deletes a loose ref, so a ref being packed meanwhile is still found.
    """
    for _ in range(_MAX_SYMREF_DEPTH):
        text = _loose(repository, name)
        if text is None:
            return _packed(repository, name)
        if not text.startswith("ref: "):
            return text if _OBJECT_ID.match(text) else None
        name = text.removeprefix("ref: ").strip()
    return None


def _loose(repository: Path, name: str) -> str | None:
    if ".." in name.split("/") or name.startswith("/"):
        return None
    with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return (repository / name).read_text().strip()
    return None


def _packed(repository: Path, name: str) -> str | None:
    with contextlib.suppress(FileNotFoundError):
        for line in (repository / "packed-refs").read_text().splitlines():
            sha, _, ref = line.partition(" ")
            if ref == name and _OBJECT_ID.match(sha):
                return sha
    return None


def _plain(repository: Path) -> bool:
    """Refs stored as files and SHA-1 object ids (what a mirror made by `git init` can borrow);
    not reftable, not SHA-256."""
    if (repository / "reftable").exists():
        return False
    with contextlib.suppress(FileNotFoundError):
        config = (repository / "config").read_text().lower()
        return "refstorage" not in config and "objectformat" not in config
    return True
