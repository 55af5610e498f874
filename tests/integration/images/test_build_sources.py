"""Where builds come from and where they go, beyond the happy path: a repository served over
HTTP, a registry that refuses the push, a build whose server died."""

from __future__ import annotations

import functools
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.source import GitSource
from dockyard.images.build_job import Tools, run_build
from dockyard.images.engine import Engine
from dockyard.store import builds, images
from dockyard.store.builds import INTERRUPTED, BuildState
from dockyard.store.db import Database
from tests.integration.images.build_support import build, set_source
from tests.integration.images.conftest import ADMIN, Center, seed
from tests.support.git_repos import Repo
from tests.support.image_center import DOCKER_HOST, image_settings
from tests.support.registry import remove_engine_images, start_registry

pytestmark = pytest.mark.docker


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_repo(repo: Repo, tmp_path: Path) -> Iterator[str]:
    """`repo` served over plain HTTP (git's "dumb" protocol, from a bare clone)."""
    served = tmp_path / "served"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(repo.path), str(served / "web.git")], check=True
    )
    subprocess.run(["git", "-C", str(served / "web.git"), "update-server-info"], check=True)
    handler = functools.partial(_Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/web.git"
    server.shutdown()
    server.server_close()


def test_a_repository_served_over_http_builds(center: Center, http_repo: str) -> None:
    set_source(center, http_repo)
    done, log = build(center)
    assert done["state"] == "succeeded", done["reason"]
    assert f"fetching {http_repo}" in log


def _queue(db: Database, team: str) -> builds.Claimed:
    with db.session() as session:
        images.set_source(
            session, ADMIN, team=team, service="web",
            source=GitSource(repo_url="file:///dev/null"), now=utcnow(),
        )  # fmt: skip
        builds.request_build(
            session, ADMIN, team=team, service="web", ref=None, force=False,
            deploy_to=Environment.TEST, now=utcnow(),
        )  # fmt: skip
        claimed = builds.claim_next(session, worker="test", now=utcnow())
    assert claimed is not None
    return claimed


def test_a_push_the_registry_refuses_fails_the_build(
    db: Database,
    repo: Repo,
    tmp_path: Path,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> None:
    refusing = start_registry(tmp_path / "read-only")
    refusing.stop()
    refusing.start(read_only=True)  # pulls only: every upload is refused
    try:
        seed(db, docker_team, test_image)
        job = _queue(db, docker_team)
        job = builds.Claimed(**{**job.__dict__, "source": GitSource(repo_url=repo.url)})
        settings = image_settings(refusing, tmp_path / "builds")
        tools = Tools(
            db=db, engine=Engine(DOCKER_HOST), registry=refusing.client(), settings=settings,
            clock=utcnow, notify=lambda key: None,
        )  # fmt: skip
        run_build(tools, job)
        with db.session() as session:
            done = builds.get_build(session, ADMIN, team=docker_team, service="web", number=1)
            page = builds.read_log(session, ADMIN, team=docker_team, service="web", number=1)
        assert done.state is BuildState.FAILED
        assert done.reason.startswith("the registry refused the push:"), done.reason
        assert "405" in done.reason  # distribution's answer to an upload in read-only mode
        assert done.image is None
        assert "pushing" in page.text
    finally:
        refusing.stop()
        remove_engine_images(docker_engine, refusing.address)


def test_a_build_whose_server_died_is_failed_as_interrupted(db: Database, test_image: str) -> None:
    seed(db, "dead", test_image)
    start = utcnow()
    _queue(db, "dead")
    with db.session() as session:
        # Before the lease lapses the build is left alone; renewing it extends the lease.
        assert builds.fail_interrupted(session, now=start + timedelta(seconds=20), lease_s=30) == []
        builds.renew(session, [1], now=start + timedelta(seconds=25))
        assert builds.fail_interrupted(session, now=start + timedelta(seconds=50), lease_s=30) == []
        assert builds.fail_interrupted(session, now=start + timedelta(seconds=60), lease_s=30)
        done = builds.get_build(session, ADMIN, team="dead", service="web", number=1)
    assert done.state is BuildState.FAILED
    assert done.reason == INTERRUPTED
