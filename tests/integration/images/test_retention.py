"""Retention: images no recent revision runs leave the registry (a dry run only lists them);
images recent revisions run stay, so every rollback target can still start."""

from __future__ import annotations

import pytest

from tests.integration.images.build_support import build, set_source
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo, service_files

pytestmark = pytest.mark.docker


def _retention(center: Center, **body: object) -> dict[str, object]:
    answer = center.client.post("/api/v1/images/retention", json=body, headers=center.admin)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_only_images_outside_the_last_revisions_are_deleted(center: Center, repo: Repo) -> None:
    set_source(center, repo.url)
    images = []
    for page in ("one", "two", "three"):
        repo.commit(service_files(page), message=page)
        done, _ = build(center, deploy_to="test")
        assert done["state"] == "succeeded", done["reason"]
        images.append(done["image"])
    one, two, three = (image["digest"] for image in images)
    web = f"{center.team}/web"

    dry = _retention(center, dry_run=True, keep_revisions=2)
    assert [v["reference"] for v in dry["deleted"]] == [images[0]["reference"]]  # type: ignore[index]
    assert center.parts.registry.digest(web, one) == one  # a dry run deletes nothing

    done = _retention(center, dry_run=False, keep_revisions=2)
    assert len(done["deleted"]) == 1 and len(done["kept"]) == 2  # type: ignore[arg-type]
    assert center.parts.registry.digest(web, one) is None
    assert center.parts.registry.digest(web, two) == two
    assert center.parts.registry.digest(web, three) == three
    listed = center.client.get(center.service() + "/images", headers=center.ci).json()["items"]
    assert {i["digest"]: i["deleted_at"] is not None for i in listed} == {
        one: True, two: False, three: False,
    }  # fmt: skip
    # Rolling back to revision 2 still works: its image stayed.
    rolled = center.client.post(
        center.service() + "/envs/test/rollback", json={"to": 2}, headers=center.ci
    )
    assert rolled.status_code == 201 and rolled.json()["image"] == images[1]["reference"]
    # Nothing is left to delete now.
    assert _retention(center, dry_run=False, keep_revisions=2)["deleted"] == []


def test_a_deleted_commit_is_built_again_when_asked(center: Center, repo: Repo) -> None:
    set_source(center, repo.url)
    first, _ = build(center)
    _retention(center, dry_run=False, keep_revisions=1)  # never deployed: deleted
    again, log = build(center)
    assert "was built already" not in log
    assert again["image"]["digest"] == first["image"]["digest"]  # same bytes, pushed again
    assert again["image"]["deleted_at"] is None
