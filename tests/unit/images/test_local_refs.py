"""Reading a local repository's refs from its files: git's layout written by hand here (the
real git program writes it in tests/integration/images/test_git_mirror.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.images.local_refs import git_dir, read_ref

A = "a" * 40
B = "b" * 40


def _repository(root: Path, *, config: str = "", files: dict[str, str] | None = None) -> Path:
    (root / "objects").mkdir(parents=True)
    (root / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "config").write_text(config)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("layout", "config", "readable"),
    [
        ("bare", "[core]\n\tbare = true\n", True),
        ("working tree", "[core]\n\tbare = false\n", True),
        ("bare", "[extensions]\n\tobjectFormat = sha256\n", False),
        ("bare", "[extensions]\n\trefStorage = reftable\n", False),
    ],
)
def test_a_repository_is_read_in_place_only_in_the_layout_a_mirror_can_borrow(
    tmp_path: Path, layout: str, config: str, readable: bool
) -> None:
    root = tmp_path / "repo"
    found = _repository(root if layout == "bare" else root / ".git", config=config)
    assert git_dir(root) == (found if readable else None)


def test_nothing_there_or_a_gitfile_is_not_read_in_place(tmp_path: Path) -> None:
    assert git_dir(tmp_path / "missing") is None
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: /elsewhere\n")
    assert git_dir(tmp_path / "worktree") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refs/heads/main", A),  # loose
        ("refs/heads/old", B),  # packed only
        ("refs/heads/both", A),  # loose wins over a stale packed entry
        ("refs/tags/v1", B),  # packed, with its peeled line after it
        ("refs/heads/alias", A),  # symbolic, to a loose ref
        ("refs/heads/loop", None),  # symbolic refs in a cycle
        ("refs/heads/junk", None),  # not an object id
        ("refs/heads/missing", None),
        ("refs/heads/../../config", None),
    ],
)
def test_a_ref_is_read_loose_then_packed_following_symbolic_refs(
    tmp_path: Path, name: str, expected: str | None
) -> None:
    repository = _repository(
        tmp_path / "repo.git",
        files={
            "refs/heads/main": f"{A}\n",
            "refs/heads/both": f"{A}\n",
            "refs/heads/alias": "ref: refs/heads/main\n",
            "refs/heads/loop": "ref: refs/heads/loop\n",
            "refs/heads/junk": "not an id\n",
            "packed-refs": (
                "# pack-refs with: peeled fully-peeled sorted \n"
                f"{B} refs/heads/both\n{B} refs/heads/old\n{B} refs/tags/v1\n^{A}\n"
            ),
        },
    )
    assert read_ref(repository, name) == expected
