"""The builder's sweep against a real build of a hosted repository: a live service keeps its
mirror, kept context and repository; a deleted one loses the first two, and its repository is
moved aside, then removed once kept long enough."""

from __future__ import annotations

import time

from dockyard.images.hosted import HostedRepos
from dockyard.images.work_dir import WorkDir
from tests.integration.images.build_support import build, set_source
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo, git


def test_a_deleted_service_loses_its_build_caches_and_its_repository_is_retired(
    center: Center, repo: Repo
) -> None:
    hosted = HostedRepos(center.parts.settings.sources.hosted_dir)
    set_source(center, hosted.url(center.team, "web"))
    git(repo.path, "push", "--quiet", str(hosted.path(center.team, "web")), "main")
    first, _ = build(center)
    assert first["state"] == "succeeded"
    builder = center.parts.builder
    work = WorkDir(center.parts.settings.builds.work_dir)
    (service_id,) = work.service_ids()
    assert work.mirror(service_id).is_dir() and list(work.kept.glob(f"{service_id}-*.tar"))
    assert list(work.root.glob("contexts/*.tar")) == []  # each build removed its own
    assert builder.sweep_once() == 0  # the service lives: all stays
    assert list(hosted.markers()) == [hosted.path(center.team, "web")]

    center.client.delete(center.service(), headers=center.admin).raise_for_status()
    assert builder.sweep_once() == 3  # its mirror, its kept context, its repository moved
    assert work.service_ids() == set() and hosted.markers() == {}
    (retired,) = (hosted.root / center.team / ".deleted").iterdir()
    assert git(retired, "rev-parse", "main") == first["commit"]  # nothing of it lost yet
    assert builder.sweep_once() == 0  # kept for DOCKYARD_GIT_KEEP_DELETED_DAYS
    assert hosted.purge_retired(older_than=time.time() + 1) == 1
