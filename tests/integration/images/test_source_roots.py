"""file:// sources are limited to the source roots (and the team's hosted repositories):
refused when set, and again when a build starts; the admin may name any path."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.domain.clock import utcnow
from dockyard.domain.principal import Principal
from dockyard.domain.source import GitSource
from dockyard.store import images
from tests.integration.images.build_support import build
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo, service_repo

pytestmark = pytest.mark.docker


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A repository outside the test's source root (its own tmp_path)."""
    return service_repo(tmp_path_factory.mktemp("elsewhere") / "web")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc",
        "file:///var/lib/dockyard/dockyard.db",
        "file://{outside}",
        "file://{root}/git/{other}/web.git",  # another team's hosted repository
    ],
)
def test_a_team_cannot_point_its_source_outside_the_roots(
    center: Center, outside: Repo, tmp_path: Path, url: str
) -> None:
    url = url.format(outside=outside.path, root=tmp_path, other="otherteam")
    answer = center.client.put(
        center.service() + "/source", json={"repo_url": url}, headers=center.ci
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "repo_url"
    assert str(tmp_path) in answer.json()["message"] or "another team" in answer.json()["message"]
    assert center.client.get(center.service() + "/source", headers=center.ci).status_code == 404


def test_the_admin_may_name_any_path_and_its_builds_run(center: Center, outside: Repo) -> None:
    answer = center.client.put(
        center.service() + "/source", json={"repo_url": outside.url}, headers=center.admin
    )
    assert answer.status_code == 200, answer.text

    done, _ = build(center)  # requested by a team member: the admin's source still holds
    assert done["state"] == "succeeded", done["reason"]


def test_a_build_of_a_source_no_longer_allowed_fails_with_the_reason(
    center: Center, outside: Repo
) -> None:
    # As if the source had been set before the roots changed: stored without the check.
    member = Principal(token_id="t", name="ci", team=center.team)
    with center.parts.db.session() as session:
        images.set_source(
            session, member, team=center.team, service="web",
            source=GitSource(repo_url=outside.url), now=utcnow(),
        )  # fmt: skip

    done, log = build(center)

    assert done["state"] == "failed"
    assert "a file:// source must lie under a source root" in done["reason"]
    assert done["image"] is None and "fetching" not in log
