"""Commits read from their loose objects agree with what git itself says of them, and what is
not a loose commit this reader handles is left to git (None)."""

from __future__ import annotations

import os
import subprocess
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from dockyard.images.git import Mirror
from dockyard.images.loose_objects import NotLoose, parse, read_commit, read_file
from tests.support.git_repos import AUTHOR, Repo, git

FORMAT = "%an <%ae>%x00%cI%x00%B"


def _git_says(repo: Path, sha: str) -> tuple[str, datetime, str]:
    author, when, message = git(repo, "show", "--no-patch", f"--format={FORMAT}", sha).split(
        "\x00", 2
    )
    return author, datetime.fromisoformat(when), message.strip()


def _commit(repo: Repo, message: str, **env: str) -> str:
    (repo.path / "f").write_text(message)
    subprocess.run(
        ["git", "-C", str(repo.path), "commit", "--quiet", "--all", "-m", message],
        check=True,
        env={**os.environ, **AUTHOR, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.path.parent),
             **env},
    )  # fmt: skip
    return git(repo.path, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("message", "env"),
    [
        ("plain", {}),
        ("ünïcode, and a body\n\nwith lines\n", {}),
        ("west of Greenwich", {"GIT_COMMITTER_DATE": "2026-03-01T10:00:00-0530"}),
        ("east", {"GIT_COMMITTER_DATE": "2026-03-01T10:00:00+1345"}),
        ("another author", {"GIT_AUTHOR_NAME": "Grace H.", "GIT_AUTHOR_EMAIL": "g@example.org"}),
    ],
)
def test_a_loose_commit_reads_as_git_shows_it(
    tmp_path: Path, message: str, env: dict[str, str]
) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"f": "first"})
    sha = _commit(repo, message, **env)
    found = read_commit([repo.path / ".git" / "objects"], sha)
    assert found is not None
    author, when, text = _git_says(repo.path, sha)
    assert (found.author, found.committed_at, found.message.strip()) == (author, when, text)
    assert found.committed_at.isoformat() == when.isoformat()  # the OCI label's very text


def test_packed_objects_tags_and_foreign_encodings_are_left_to_git(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    sha = repo.commit({"f": "x"})
    git(repo.path, "tag", "-a", "v1", "-m", "annotated")
    tag = git(repo.path, "rev-parse", "v1")
    objects = repo.path / ".git" / "objects"
    assert read_commit([objects], tag) is None  # a tag object: git peels it
    latin = _commit(repo, "caf\xe9", GIT_CONFIG_PARAMETERS="'i18n.commitEncoding=ISO-8859-1'")
    assert read_commit([objects], latin) is None
    git(repo.path, "gc", "--quiet")
    assert read_commit([objects], sha) is None  # packed now
    assert read_commit([objects], "not an id") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not zlib",
        zlib.compress(b"blob 3\0abc"),
        zlib.compress(b"commit 99\0tree x\n\nshort"),  # the size does not match
        zlib.compress(b"commit 24\0tree x\nauthor nobody\n\nm\n"),  # no committer, no email
    ],
)
def test_what_does_not_parse_is_none(raw: bytes) -> None:
    assert parse(raw) is None


def test_the_mirror_reads_a_loose_commit_and_a_packed_one_alike(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    sha = repo.commit({"f": "x"}, message="both ways")
    loose = Mirror(tmp_path / "m1.git", repo.url)
    with loose.locked():
        loose.fetch()
        read_loose = loose.find("main")
    git(repo.path, "gc", "--quiet")
    packed = Mirror(tmp_path / "m2.git", repo.url)  # another mirror: nothing remembered
    with packed.locked():
        packed.fetch()
        read_by_git = packed.find("main")
    assert read_loose == read_by_git and read_loose.sha == sha


def test_files_read_loose_or_by_git_alike(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"Dockerfile": "FROM a\n", "app/Dockerfile": "FROM b\n", "app/x/y.txt": "y"})
    (repo.path / "linked").symlink_to("app/Dockerfile")
    sha = repo.commit({}, message="a link")
    asked = [
        "Dockerfile",
        "app/Dockerfile",
        "linked",
        "app/x",
        "app/x/y.txt/z",
        "nothing",
        "app/nothing",
    ]
    expected = {
        "Dockerfile": b"FROM a\n",
        "app/Dockerfile": b"FROM b\n",
        "linked": b"FROM b\n",  # a link inside the commit is followed, as by the engine
        "app/x": None,  # a directory is no file
        "app/x/y.txt/z": None,
        "nothing": None,
        "app/nothing": None,
    }
    loose = Mirror(tmp_path / "m1.git", repo.url)
    with loose.locked():
        loose.fetch()
        assert loose.read_files(sha, asked) == expected
    git(repo.path, "gc", "--quiet")  # packed now: all of it is asked of git
    packed = Mirror(tmp_path / "m2.git", repo.url)
    with packed.locked():
        packed.fetch()
        assert packed.read_files(sha, asked) == expected
    with pytest.raises(NotLoose):  # what the loose reader alone makes of it: git's to read
        read_file([repo.path / ".git" / "objects"], sha, "Dockerfile")
