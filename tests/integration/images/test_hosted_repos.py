"""Hosted repositories on disk, made with the real git program."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.images.hosted import HostedRepos
from tests.support.git_repos import Repo, git, service_files


def test_creators_at_once_make_one_repository_and_leave_nothing_else(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: repos.ensure("shop", "web"), range(16)))

    assert made == {tmp_path / "git" / "shop" / "web.git"}
    assert sorted(p.name for p in (tmp_path / "git" / "shop").iterdir()) == ["web.git"]
    assert (tmp_path / "git" / "shop" / "web.git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (tmp_path / "git" / "shop" / "web.git" / "hooks").exists()  # no sample hooks


def test_head_follows_what_was_pushed(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    path = repos.ensure("shop", "web")
    assert repos.head("shop", "web", "main") is None
    work = Repo(tmp_path / "work")
    sha = work.commit(service_files())
    git(work.path, "push", "--quiet", str(path), "main")
    assert repos.head("shop", "web", "main") == sha
    assert repos.head("shop", "other", "main") is None


@pytest.mark.parametrize(("team", "service"), [("..", "web"), ("shop", "../x"), ("Shop", "web")])
def test_names_that_could_leave_the_root_are_refused(
    tmp_path: Path, team: str, service: str
) -> None:
    with pytest.raises(Invalid):
        HostedRepos(tmp_path).path(team, service)
