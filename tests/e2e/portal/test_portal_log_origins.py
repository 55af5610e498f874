"""Provenance on the Logs page: each line's instance links to its row on the service page, and
the line shows that instance's revision, image digest and commit (a plain HTTP test of the page
and of the live view's events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvPhase
from dockyard.logs.center import Dropped
from dockyard.logs.index import Filters, LogIndex
from dockyard.logs.index.base import Hit
from dockyard.portal.log_origins import origin_text
from dockyard.portal.log_pages import live_events
from dockyard.store.images import NewImage, record_image
from dockyard.store.models import ServiceRow
from dockyard.store.origins import Origin
from tests.e2e.portal.conftest import World, instance
from tests.e2e.portal.logs_support import (
    A,
    B,
    log_center,
    logged_in,
    portal_with_logs,
    run_apart,
    seeded_index,
    stream_name,
)

LOGS = "/teams/payments/services/api/logs"
DIGEST = "sha256:1a2b3c4d" + "e" * 56
COMMIT = "9f8e7d6c" + "5" * 32
IMAGE = f"registry.local:5000/payments/api@{DIGEST}"


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = seeded_index(tmp_path / "index")
    yield opened
    opened.close()


def built_and_running(world: World) -> int:
    """payments/api runs IMAGE (built from COMMIT) in test, as instance A only."""
    revision = world.deploy("payments", "api", Environment.TEST, image=IMAGE, replicas=1)
    with world.db.session() as session:
        service_id = session.scalar(select(ServiceRow.id).where(ServiceRow.name == "api"))
        assert service_id is not None
        made = NewImage(
            repository="registry.local:5000/payments/api", digest=DIGEST, tag="1.6.0",
            commit=COMMIT, author="dev", message="fix", committed_at=None, size_bytes=1,
            build_number=7, duration_s=1.0,
        )  # fmt: skip
        record_image(session, service_id=service_id, image=made, now=world.clock())
    world.write_status(
        "payments", "api", Environment.TEST, phase=EnvPhase.AVAILABLE, message="",
        revision=revision, desired=1, instances=[instance(A.instance, revision=revision)],
    )  # fmt: skip
    return revision


def test_a_line_links_its_instance_and_shows_its_revision_image_and_commit(
    world: World, index: LogIndex
) -> None:
    revision = built_and_running(world)
    with (
        portal_with_logs(world, log_center(index, None, stream_name())) as url,
        logged_in(url, world.payments_token) as client,
    ):
        answer = client.get(LOGS, params={"env": "test"})

    assert answer.status_code == 200, answer.text
    row = f"/ui/teams/payments/services/api?env=test#instance-{A.instance}"
    assert (
        f'<a class="origin" href="{row}" title="{IMAGE}">r{revision} · 1a2b3c4d · 9f8e7d6c</a>'
        in answer.text
    )
    assert 'class="inst inst-c' in answer.text and f'href="{row}">{A.instance}</a>' in answer.text
    # B has no instance row any more (its container is gone): its lines show no origin.
    b_line = answer.text[answer.text.index(f'data-instance="{B.instance}"') :]
    assert b_line.index('<span class="origin"></span>') < b_line.index("</div>")


class OneLine:
    """A log center that follows with one line of A."""

    def follow(self, filters: Filters, text: str, *, tail: int) -> AsyncIterator[Hit | Dropped]:
        async def lines() -> AsyncIterator[Hit | Dropped]:
            yield Hit(team="payments", service="api", env="test", instance=A.instance,
                      channel="console", seq=1, time_ns=10**18, stream="stdout", level="",
                      text="hello")  # fmt: skip

        return lines()


def test_the_live_view_s_lines_carry_the_origin_of_running_instances() -> None:
    origin = Origin(A.instance, "test", 4, IMAGE, DIGEST, COMMIT)
    events = live_events(
        OneLine(), Filters(), "", tail=1, service_url="/ui/s", origins={A.instance: origin}
    )

    async def collect() -> list[bytes]:
        return [chunk async for chunk in events]

    chunks = run_apart(collect())
    data = next(
        json.loads(line.removeprefix(b"data: "))
        for chunk in chunks
        for line in chunk.splitlines()
        if line.startswith(b"data: {") and b'"seq"' in line
    )
    assert data["origin"] == "r4 · 1a2b3c4d · 9f8e7d6c" and data["image"] == IMAGE


@pytest.mark.parametrize(
    ("origin", "text"),
    [
        (Origin("i", "test", 3, IMAGE, DIGEST, COMMIT), "r3 · 1a2b3c4d · 9f8e7d6c"),
        (Origin("i", "test", 3, "busybox:1", None, None), "r3"),
        (Origin("i", "test", 3, IMAGE, DIGEST, None), "r3 · 1a2b3c4d"),
    ],
)
def test_an_origin_reads_revision_digest_and_commit(origin: Origin, text: str) -> None:
    assert origin_text(origin) == text
