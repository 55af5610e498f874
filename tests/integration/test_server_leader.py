"""Two servers' apps (the real lifespan) over one database and one real etcd: only the elected
one runs its controllers, both say who leads in /healthz/parts, and when the leader stops the
other takes over within the TTL. The runtime is the in-memory fake: this is about who runs the
controllers, not what they do (tests/e2e covers deploys)."""

from __future__ import annotations

import contextlib
import secrets
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockyard.controller.manager import Manager
from dockyard.domain.clock import utcnow
from dockyard.images.builder import Builder
from dockyard.images.follower import Follower
from dockyard.images.registry import RegistryClient
from dockyard.runtimes.fake import FakeRuntime
from dockyard.server import Parts, _election, build_app
from dockyard.settings import Settings
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette suggests httpx2 for its TestClient
    from fastapi.testclient import TestClient

TTL_S = 2


def server_parts(tmp: Path, *, etcd: str | None, prefix: str) -> Parts:
    environ = {"HOME": str(tmp), "DOCKYARD_STATE_DIR": str(tmp), "DOCKYARD_LEADER_TTL_S": "2"}
    environ |= {"DOCKYARD_RESYNC_INTERVAL_S": "0.2", "DOCKYARD_ETCD_PREFIX": prefix}
    if etcd is not None:
        environ["DOCKYARD_ETCD_ENDPOINTS"] = etcd
    settings = Settings.from_env(environ)
    db = Database.open(f"sqlite:///{tmp.parent}/shared.db")
    runtime = FakeRuntime()
    manager = Manager(db, runtime, clock=utcnow, settings=settings.controller)
    registry = RegistryClient(settings.images.registry.url)
    return Parts(
        db=db, runtime=runtime, manager=manager, clock=utcnow, settings=settings,
        registry=registry,
        builder=Builder(db, settings=settings.images, docker_host=settings.docker.host,
                        clock=utcnow, notify=manager.notify, registry=registry),
        follower=Follower(db, clock=utcnow, notify=manager.notify, interval_s=1),
        election=_election(settings) if settings.etcd.elect_leader else None,
    )  # fmt: skip


def parts_report(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/healthz/parts").json()
    return body


def wait_for(check: Callable[[], bool], *, timeout_s: float) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, "timed out"
        time.sleep(0.02)
    return time.monotonic() - start


def test_only_the_elected_server_runs_controllers_and_the_other_takes_over(
    tmp_path: Path, etcd_server: EtcdServer
) -> None:
    prefix = f"/t-{secrets.token_hex(4)}"
    first = server_parts(tmp_path / "a", etcd=etcd_server.endpoint, prefix=prefix)
    second = server_parts(tmp_path / "b", etcd=etcd_server.endpoint, prefix=prefix)
    with contextlib.ExitStack() as leader_stack:
        a = leader_stack.enter_context(TestClient(build_app(first)))
        wait_for(lambda: parts_report(a)["leading"], timeout_s=TTL_S)
        with TestClient(build_app(second)) as b:
            wait_for(lambda: parts_report(b)["leader"] is not None, timeout_s=TTL_S)
            leader = parts_report(a)["leader"]
            assert parts_report(b) | {"builder": "?"} == {
                "database": "ok", "engine": "ok", "controller": "ok", "builder": "?",
                "leading": False, "leader": leader,
            }  # fmt: skip
            wait_for(lambda: first.manager.healthy, timeout_s=2)  # its resync ran
            assert not second.manager.healthy  # never started on the standby
            leader_stack.close()  # the leader stops: it resigns its lease
            took_over = wait_for(lambda: parts_report(b)["leading"], timeout_s=TTL_S)
            assert took_over < TTL_S
            wait_for(lambda: second.manager.healthy, timeout_s=2)


def test_without_etcd_endpoints_the_server_leads_alone(tmp_path: Path) -> None:
    parts = server_parts(tmp_path / "a", etcd=None, prefix="/x")
    assert parts.election is None
    with TestClient(build_app(parts)) as client:
        report = parts_report(client)
        assert report["leading"] is True
        assert report["leader"].startswith("this server")
        wait_for(lambda: parts.manager.healthy, timeout_s=2)
