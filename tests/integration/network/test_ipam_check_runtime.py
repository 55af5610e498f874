"""`GET /ipam/check` against a real etcd and dockerd: held addresses compared with what the Docker
runtime reports now (not what a controller last recorded), and a 503 when it cannot be read."""

from __future__ import annotations

import functools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.domain.instance import Observed, Owner
from dockyard.domain.principal import Principal
from dockyard.network.ipam import pool_of
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.docker import DockerRuntime
from dockyard.store import segments, tokens
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

from .conftest import holder
from .test_docker_ipam import Host, close_host, make_host, spec_for

pytestmark = pytest.mark.docker

ADMIN = Principal(token_id="setup", name="admin", team=None)


@dataclass
class Checked:
    host: Host
    api: httpx.AsyncClient
    headers: dict[str, str]

    async def check(self) -> dict[str, Any]:
        answer = await self.api.get("/api/v1/ipam/check", headers=self.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def api_over(
    host: Host, db: Database, endpoint: str, *, runtime: DockerRuntime, team: str
) -> httpx.AsyncClient:
    """The API app with its own etcd connection (as the server has), reading `runtime`."""
    ipam = Ipam.connect([endpoint], prefix=host.ipam.book.keys.prefix, clock=now)
    deps = ApiDeps(
        db=db,
        clock=now,
        notify=lambda key: None,
        ipam=ipam,
        instances=functools.partial(runtime.list, Owner(team=team)),
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_api(deps)), base_url="http://t"
    )


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def checked(
    docker_engine: docker.APIClient,
    test_image: str,
    etcd_server: EtcdServer,
    docker_team: str,
    migrated_db: Path,
    tmp_path: Path,
) -> AsyncIterator[Checked]:
    host = await make_host(docker_engine, etcd_server.endpoint, cidr="10.81.0.0/28")
    shutil.copyfile(migrated_db, tmp_path / "dockyard.db")
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}", upgrade=False)
    with db.session() as session:
        secret = tokens.ensure_admin_token(session, now=now())
        segments.create_segment(session, ADMIN, segment=host.segment, now=now())
    api = api_over(host, db, etcd_server.endpoint, runtime=host.runtime, team=docker_team)
    yield Checked(host, api, {"Authorization": f"Bearer {secret}"})
    await api.aclose()
    db.close()
    await close_host(host)


def kinds(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(finding["kind"], finding["address"]) for finding in answer["findings"]]


async def start(checked: Checked, team: str, instance: str, image: str) -> Observed:
    observed = await checked.host.runtime.start(spec_for(checked.host, team, instance, image))
    assert observed.ip is not None
    return observed


async def test_running_instances_holding_their_addresses_are_clean_and_a_leak_is_found(
    checked: Checked, docker_team: str, test_image: str
) -> None:
    await start(checked, docker_team, "eeeeeeeee1", test_image)
    doomed = await start(checked, docker_team, "eeeeeeeee2", test_image)
    answer = await checked.check()
    assert (answer["held"], answer["instances"], answer["findings"]) == (2, 2, [])
    # Removed, and Docker's release of its address lost on the way (as when the agent is
    # down): its key is written back exactly as it was held.
    book = checked.host.ipam.book
    held = await book.lease(checked.host.segment.name, IPv4Address(doomed.ip or ""))
    assert held is not None
    await checked.host.runtime.destroy(doomed)
    segment, fixed = await checked.host.ipam.directory.load(checked.host.segment.name)
    await book.allocate(pool_of(segment, fixed), held.holder, requested=held.address)
    answer = await checked.check()
    assert kinds(answer) == [("leak", doomed.ip)] and answer["instances"] == 1
    (leak,) = answer["findings"]
    assert leak["etcd"].startswith("held for instance eeeeeeeee2 (container ")
    assert leak["runtime"] == "reports no such instance or container"


async def test_an_address_nobody_holds_and_one_held_for_another_address_are_found(
    checked: Checked, docker_team: str, test_image: str
) -> None:
    unheld = await start(checked, docker_team, "fffffffff1", test_image)
    moved = await start(checked, docker_team, "fffffffff2", test_image)
    book = checked.host.ipam.book
    lease = await book.lease(checked.host.segment.name, IPv4Address(unheld.ip or ""))
    assert lease is not None
    await book.release(lease, reason="admin")  # etcd forgets it; the container keeps it
    # etcd also holds a second address for fffffffff2, which runs with its first one.
    segment, fixed = await checked.host.ipam.directory.load(checked.host.segment.name)
    stray = await book.allocate(pool_of(segment, fixed), holder("fffffffff2", host="host-a"))
    answer = await checked.check()
    assert sorted(kinds(answer)) == sorted(
        [("unrecorded", unheld.ip), ("mismatch", str(stray.address))]
    )
    by_kind = {finding["kind"]: finding for finding in answer["findings"]}
    assert by_kind["unrecorded"]["etcd"] == "no holder recorded"
    assert by_kind["mismatch"]["runtime"].endswith(f"runs with {moved.ip}")


async def test_a_runtime_that_cannot_be_read_makes_check_answer_503_not_all_clean(
    checked: Checked, docker_team: str, tmp_path: Path
) -> None:
    dead = DockerRuntime(base_url=f"unix://{tmp_path}/no-engine.sock", timeout_s=2)
    host = checked.host
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}", upgrade=False)
    endpoint = host.ipam.etcd.endpoints[0]
    async with api_over(host, db, endpoint, runtime=dead, team=docker_team) as api:
        answer = await api.get("/api/v1/ipam/check", headers=checked.headers)
    db.close()
    dead.close()
    assert answer.status_code == 503
    assert "cannot read the runtime's instances, so nothing was compared" in answer.text
    assert "no-engine.sock" in answer.text
