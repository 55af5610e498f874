"""Build contexts as the engine gets them: a .dockerignore applied by git (exclusion pathspecs)
and by a pass over the tar in Python (the fallback for very long lists) leaves out the very
same files; a context BuildKit would not take for a tar is written so that it does."""

from __future__ import annotations

import contextlib
import tarfile
import time
from pathlib import Path

import docker
import pytest

from dockyard.domain.source import GitSource
from dockyard.images import context as context_module
from dockyard.images.context import GENERATED, make_context, paths_to_leave_out
from dockyard.images.dockerignore import parse
from dockyard.images.engine import Engine
from dockyard.images.git import Mirror
from tests.support.git_repos import Repo
from tests.support.image_center import DOCKER_HOST

FILES = {
    "Dockerfile": "FROM scratch\n",
    "app/main.py": "x",
    "app/test_main.py": "x",
    "docs/a.md": "x",
    "docs/keep.md": "x",
    "notes.md": "x",
    "README.md": "x",
    "build/out/x.o": "x",
    "build/out/y.o": "x",
    "weird [name].txt": "x",
    "deep/a/b/c.go": "x",
}
IGNORE = "**/test_*.py\ndocs\n!docs/keep.md\n*.md\n!README.md\nbuild\nweird*\n**/*.go\nDockerfile\n"


def _files(tar: Path) -> set[str]:
    with tarfile.open(tar) as opened:
        return {member.name for member in opened if member.isfile()}


@pytest.mark.parametrize("by_git", [True, False], ids=["git", "python"])
def test_git_and_python_leave_out_the_same_files(
    tmp_path: Path, by_git: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(tmp_path / "r")
    sha = repo.commit({**FILES, ".dockerignore": IGNORE})
    if not by_git:
        monkeypatch.setattr(context_module, "MAX_LEAVE_OUT_BYTES", 0)
    mirror = Mirror(tmp_path / "m.git", repo.url)
    with mirror.locked():
        mirror.fetch()
        tar = make_context(
            mirror, sha, source=GitSource(repo.url), labels={"a": "b"}, into=tmp_path / "c.tar"
        )
    assert _files(tar) == {
        "Dockerfile", ".dockerignore", GENERATED, "app/main.py", "docs/keep.md", "README.md",
    }  # fmt: skip


def test_a_directory_excluded_whole_is_one_path_and_one_with_an_exception_is_not() -> None:
    patterns = parse("docs\n!docs/keep.md\nbuild\n**/*.o\n")
    files = ["docs/a.md", "docs/keep.md", "build/x/y.o", "build/z", "src/m.o", "src/m.c"]
    assert paths_to_leave_out(files, patterns, keep=set()) == ["build", "docs/a.md", "src/m.o"]


def test_a_context_directory_whose_first_path_is_long_still_reads_as_a_tar(
    tmp_path: Path, test_image: str
) -> None:
    """A context directory archives with no global header, and a path over 100 bytes gets a
    header of its own: first in the archive, BuildKit would take the tar for a Dockerfile."""
    repo = Repo(tmp_path / "r")
    long_name = "A" * 120 + ".txt"  # first: before "Dockerfile" in git's order
    sha = repo.commit(
        {f"app/{long_name}": "x", "app/Dockerfile": f"FROM {test_image}\nCOPY . /c/\n"}
    )
    mirror = Mirror(tmp_path / "m.git", repo.url)
    with mirror.locked():
        mirror.fetch()
        tar = make_context(
            mirror, sha, source=GitSource(repo.url, context="app"), labels={"a": "b"},
            into=tmp_path / "c.tar",
        )  # fmt: skip
    with tarfile.open(tar) as opened:
        assert next(m.name for m in opened if m.isfile()) == long_name
    tag = f"dockyard-test/context:{sha[:8]}"
    try:
        Engine(DOCKER_HOST, buildkit=True).build(
            tar, dockerfile=GENERATED, tag=tag, on_line=lambda _line: None,
            deadline=time.monotonic() + 120,
        )  # fmt: skip
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker.APIClient(base_url=DOCKER_HOST).remove_image(tag, force=True)
