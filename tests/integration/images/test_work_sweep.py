"""The builder's sweep against a real build: a live service keeps its mirror and kept context
(and a forced rebuild uses them), a deleted one loses them."""

from __future__ import annotations

from dockyard.images.work_dir import WorkDir
from tests.integration.images.build_support import build, set_source
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo


def test_a_deleted_service_loses_its_build_caches(center: Center, repo: Repo) -> None:
    set_source(center, repo.url)
    first, _ = build(center)
    assert first["state"] == "succeeded"
    builder = center.parts.builder
    work = WorkDir(center.parts.settings.builds.work_dir)
    (service_id,) = work.service_ids()
    assert work.mirror(service_id).is_dir() and list(work.kept.glob(f"{service_id}-*.tar"))
    assert list(work.root.glob("contexts/*.tar")) == []  # each build removed its own
    assert builder.sweep_once() == 0  # the service lives: all stays

    center.client.delete(center.service(), headers=center.admin).raise_for_status()
    assert builder.sweep_once() == 2  # its mirror and its kept context
    assert work.service_ids() == set()
    assert builder.sweep_once() == 0
