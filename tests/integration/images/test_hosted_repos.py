"""Hosted repositories on disk, made with the real git program."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.images.hosted import MARKER, HostedRepos, RepoOwner
from tests.support.git_repos import Repo, git, service_files

FIRST = RepoOwner(service_id=7, created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
AGAIN = RepoOwner(service_id=7, created=datetime(2026, 2, 2, tzinfo=UTC))  # id given back


def test_creators_at_once_make_one_repository_and_leave_nothing_else(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda _: repos.ensure("shop", "web", owner=FIRST), range(16)))

    assert made == {tmp_path / "git" / "shop" / "web.git"}
    assert sorted(p.name for p in (tmp_path / "git" / "shop").iterdir()) == ["web.git"]
    assert (tmp_path / "git" / "shop" / "web.git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (tmp_path / "git" / "shop" / "web.git" / "hooks").exists()  # no sample hooks


def test_head_follows_what_was_pushed(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    path = repos.ensure("shop", "web", owner=FIRST)
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


def test_a_new_service_of_the_same_name_starts_empty_and_the_old_repository_is_kept_aside(
    tmp_path: Path,
) -> None:
    repos = HostedRepos(tmp_path / "git")
    path = repos.ensure("shop", "web", owner=FIRST)
    work = Repo(tmp_path / "work")
    old = work.commit(service_files())
    git(work.path, "push", "--quiet", str(path), "main")

    with ThreadPoolExecutor(4) as pool:  # the new service's first requests, at once
        made = set(pool.map(lambda _: repos.ensure("shop", "web", owner=AGAIN), range(8)))

    assert made == {path}
    assert repos.head("shop", "web", "main") is None
    assert (path / MARKER).read_text() == AGAIN.marker + "\n"
    [retired] = (tmp_path / "git" / "shop" / ".deleted").iterdir()
    assert retired.name.startswith("web-service-7-created-2026-01-02T03-04-05")
    assert git(retired, "rev-parse", "refs/heads/main") == old
    assert sorted(p.name for p in (tmp_path / "git" / "shop").iterdir()) == [".deleted", "web.git"]


def test_a_repository_without_a_marker_is_taken_as_the_live_services(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    path = repos.ensure("shop", "web", owner=FIRST)
    work = Repo(tmp_path / "work")
    sha = work.commit(service_files())
    git(work.path, "push", "--quiet", str(path), "main")
    (path / MARKER).unlink()  # as made before markers were written

    assert repos.ensure("shop", "web", owner=AGAIN) == path
    assert repos.head("shop", "web", "main") == sha
    assert (path / MARKER).read_text() == AGAIN.marker + "\n"


def test_a_retired_repository_is_kept_for_a_while_then_removed(tmp_path: Path) -> None:
    repos = HostedRepos(tmp_path / "git")
    web = repos.ensure("shop", "web", owner=FIRST)
    api = repos.ensure("shop", "api", owner=RepoOwner(service_id=8, created=FIRST.created))
    assert repos.markers() == {
        api: "service 8 created 2026-01-02T03:04:05+00:00",
        web: FIRST.marker,
    }
    assert RepoOwner.parse(FIRST.marker) == FIRST
    assert RepoOwner.parse("service 7 created yesterday") is None
    assert RepoOwner.parse("someone else's") is None

    assert not repos.retire(web, marker=AGAIN.marker)  # not the marker it carries: stays
    os.utime(web, (0, 0))  # last pushed to long ago: the keep time counts from retirement
    before = time.time()
    assert repos.retire(web, marker=FIRST.marker)
    assert not web.exists() and list(repos.markers()) == [api]
    (retired,) = (tmp_path / "git" / "shop" / ".deleted").iterdir()
    assert (retired / MARKER).read_text().strip() == FIRST.marker
    assert repos.purge_retired(older_than=before - 1) == 0  # retired just now: kept
    assert repos.purge_retired(older_than=time.time() + 1) == 1
    assert not retired.exists() and api.exists()
