"""A log search's answer says where each instance's lines came from: beside the lines, a table
of the instances' revision, image, digest and commit (once per instance, not per line); an
instance no longer known has none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dockyard.api import ApiDeps, build_api
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.logs.center import LogCenter
from dockyard.logs.index import open_engine
from dockyard.logs.record import Batch, Line, Source
from dockyard.store import releases, status
from dockyard.store.db import Database
from dockyard.store.images import NewImage, record_image
from dockyard.store.models import ServiceRow
from dockyard.store.releases import Change

from .api_support import MovableClock, TestClient

ADMIN = Principal(token_id="setup", name="admin", team=None)
DIGEST = "sha256:" + "ab" * 32
COMMIT = "c0ffee" + "0" * 34
IMAGE = f"registry.local:5000/alpha/web@{DIGEST}"


def lines(instance: str, n: int) -> Batch:
    source = Source("alpha", "web", Environment.TEST, instance)
    t = time.time_ns() - 10**9
    return Batch(source, tuple(Line(s, t + s, "stdout", f"line {s}") for s in range(1, n + 1)))


def running(db: Database, clock: MovableClock, instance: str) -> int:
    """alpha/web runs IMAGE, built from COMMIT, in test as `instance`; the revision."""
    with db.session() as session:
        release = releases.deploy(
            session, Change(ADMIN, clock()), team="alpha", service="web", env=Environment.TEST,
            image=IMAGE, replicas=1,
        )  # fmt: skip
        service_id = session.scalar(select(ServiceRow.id).where(ServiceRow.name == "web"))
        assert service_id is not None
        record_image(
            session, service_id=service_id, now=clock(),
            image=NewImage(
                repository="registry.local:5000/alpha/web", digest=DIGEST, tag="2", commit=COMMIT,
                author="a", message="m", committed_at=None, size_bytes=1, build_number=1,
                duration_s=1.0,
            ),
        )  # fmt: skip
        key = status.key_for(session, team="alpha", service="web", env=Environment.TEST)
        assert key is not None
        record = InstanceRecord(
            id=instance, revision=release.number, template_hash="t", runtime_id="c1",
            state="running", health=Health.READY,
        )  # fmt: skip
        status.write_pass(
            session, key, records=[record], events=[], now=clock(),
            status=EnvStatus(phase=EnvPhase.AVAILABLE, message="", revision=release.number,
                             desired=1, ready=1, updated=1),
        )  # fmt: skip
        return release.number


@pytest.fixture
def searched(deps: ApiDeps, tmp_path: Path, web: str) -> Iterator[TestClient]:
    index = open_engine("fts5", tmp_path / "index")
    index.add([lines("web-1", 3), lines("web-9", 2)])
    index.commit()
    center = LogCenter(index, stream=None, archive=None, index_days=7)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    index.close()


def test_a_search_names_each_instance_s_revision_image_and_commit(
    searched: TestClient, db: Database, clock: MovableClock, web: str, alpha: dict[str, str]
) -> None:
    revision = running(db, clock, "web-1")
    answer = searched.get(web + "/logs", params={"env": "test"}, headers=alpha)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["items"]) == 5
    assert body["instances"] == {
        "web-1": {"env": "test", "revision": revision, "image": IMAGE, "digest": DIGEST,
                  "commit": COMMIT},
    }  # fmt: skip  # web-9 is gone from the database: its lines stay, without an origin
