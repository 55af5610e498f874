"""Build logs in the portal: the Logs page offers `build` beside the four environments and shows
a service's build lines linked to their build, the build page links to its lines there, and
another team sees none of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.domain.source import GitSource
from dockyard.logs.build_lines import Shipped, build_instance, build_source, to_batches
from dockyard.logs.index import LogIndex, open_engine
from dockyard.logs.record import Batch
from dockyard.store import builds, images
from tests.e2e.portal.conftest import World
from tests.e2e.portal.logs_support import log_center, logged_in, portal_with_logs, stream_name
from tests.support.image_center import ADMIN

LOGS = "/teams/payments/services/api/logs"


def build_of(world: World, team: str, service: str, log: str) -> tuple[int, list[Batch]]:
    """A build of `team`/`service` whose whole log is `log`: its id, and its lines as batches."""
    with world.db.session() as session:
        images.set_source(
            session, ADMIN, team=team, service=service,
            source=GitSource(repo_url="file:///dev/null"), now=world.clock(),
        )  # fmt: skip
        builds.request_build(
            session, ADMIN, team=team, service=service, ref=None, force=False, deploy_to=None,
            now=world.clock(),
        )  # fmt: skip
        claimed = builds.claim_next(session, worker="test", now=world.clock())
        assert claimed is not None
        builds.append_log(session, claimed.id, seq=0, start=0, text=log)
    source = build_source(team=team, service=service, number=claimed.number, build_id=claimed.id)
    made, _ = to_batches(source, log, Shipped(), done=True, time_ns=10**18, max_line_bytes=1024)
    return claimed.id, made


@pytest.fixture
def build_id(world: World, tmp_path: Path) -> Iterator[tuple[int, LogIndex]]:
    index = open_engine("fts5", tmp_path / "index")
    own, batches = build_of(world, "payments", "api", "==> fetching\nStep 1/1 : FROM scratch\n")
    _, others = build_of(world, "search", "indexer", "==> secret build line\n")
    index.add([*batches, *others])
    index.commit()
    yield own, index
    index.close()


@pytest.fixture
def portal(world: World, build_id: tuple[int, LogIndex]) -> Iterator[str]:
    with portal_with_logs(world, log_center(build_id[1], None, stream_name())) as url:
        yield url


def test_the_logs_page_shows_build_lines_linked_to_their_build(
    portal: str, world: World, build_id: tuple[int, LogIndex]
) -> None:
    with logged_in(portal, world.payments_token) as client:
        answer = client.get(LOGS, params={"env": "build"})
    assert answer.status_code == 200, answer.text
    assert 'href="/ui/teams/payments/services/api/logs?env=build" data-env="build"' in answer.text
    assert re.search(r'data-env="build" aria-current="page"', answer.text)
    instance = build_instance(1, build_id[0])
    assert re.findall(r'data-instance="([^"]+)" data-seq="(\d+)"', answer.text) == [
        (instance, "2"),
        (instance, "1"),
    ]
    assert "Step 1/1 : FROM scratch" in answer.text
    assert 'href="/ui/teams/payments/services/api/builds/1"' in answer.text
    assert f'<option value="{instance}">' in answer.text  # offered in the instance field
    assert "secret build line" not in answer.text


def test_the_build_page_links_to_its_lines_in_the_logs_page(
    portal: str, world: World, build_id: tuple[int, LogIndex]
) -> None:
    with logged_in(portal, world.payments_token) as client:
        page = client.get("/teams/payments/services/api/builds/1")
        assert page.status_code == 200, page.text
        found = re.search(r'id="build-log-search" class="muted" href="([^"]+)"', page.text)
        assert found is not None
        link = found.group(1).replace("&amp;", "&")
        assert link == (f"/ui{LOGS}?env=build&instance={build_instance(1, build_id[0])}")
        lines = client.get(link.removeprefix("/ui"))
    assert lines.status_code == 200 and "==&gt; fetching" in lines.text


def test_another_team_cannot_see_a_teams_build_logs(portal: str, world: World) -> None:
    with logged_in(portal, world.search_token) as client:
        answer = client.get(LOGS, params={"env": "build"})
    assert answer.status_code == 404
    assert "fetching" not in answer.text
