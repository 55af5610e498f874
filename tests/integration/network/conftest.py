"""Fixtures for IPAM against a real etcd: an AddressBook under a key prefix of each test's own."""

from __future__ import annotations

import functools
import secrets
import shutil
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.domain.instance import Owner
from dockyard.domain.principal import Principal
from dockyard.domain.segment import Segment
from dockyard.domain.spec import ServiceSpec
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import AddressBook, Holder, Keys, Pool
from dockyard.network.ipam.client import Ipam
from dockyard.runtimes.fake import FakeRuntime
from dockyard.store import services, teams, tokens
from dockyard.store.db import Database
from tests.support.etcd import EtcdServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette suggests httpx2 for its TestClient
    from fastapi.testclient import TestClient


def holder(instance: str, *, host: str = "h1", **fields: str) -> Holder:
    return Holder(host=host, claim="", since=datetime.now(UTC), instance=instance, **fields)


def segment_pool(cidr: str = "10.1.0.0/24", *, name: str = "s1", **fixed: str) -> Pool:
    segment = Segment.parse(name=name, cidr=cidr, gateway=None, environments=["test"])
    return Pool(segment)


@pytest.fixture
def keys() -> Keys:
    return Keys(prefix=f"/test-{secrets.token_hex(4)}")


@pytest.fixture
async def etcd(etcd_server: EtcdServer) -> AsyncIterator[Etcd]:
    client = Etcd([etcd_server.endpoint])
    yield client
    await client.close()


@pytest.fixture
async def book(etcd: Etcd, keys: Keys) -> AddressBook:
    return AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))


# -- the REST API with IPAM over the real etcd -------------------------------------------------


@dataclass
class IpamApi:
    client: TestClient
    db: Database
    admin: dict[str, str]
    team: dict[str, str]
    """Headers of a token of team `shop`, which has service `web`."""
    ipam: Ipam


_SETUP = Principal(token_id="setup", name="admin", team=None)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ipam-template") / "dockyard.db"
    Database.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def ipam_api(
    tmp_path: Path, migrated_db: Path, etcd_server: EtcdServer, keys: Keys
) -> Iterator[IpamApi]:
    """The API app (with the segment and IPAM routers) over a fresh database and etcd prefix."""
    path = tmp_path / "dockyard.db"
    shutil.copyfile(migrated_db, path)
    db = Database.open(f"sqlite:///{path}", upgrade=False)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        admin_secret = tokens.ensure_admin_token(session, now=now)
        teams.create_team(session, _SETUP, name="shop", description="", now=now)
        _, team_secret = tokens.create_token(
            session, _SETUP, team="shop", name="ci", expires_at=None, now=now
        )
        services.create_service(
            session, _SETUP, team="shop", name="web", spec=ServiceSpec(image="shop/web:1"), now=now
        )
    assert admin_secret is not None
    ipam = Ipam.connect([etcd_server.endpoint], prefix=keys.prefix, clock=lambda: datetime.now(UTC))
    app = build_api(
        ApiDeps(
            db=db,
            clock=lambda: datetime.now(UTC),
            notify=lambda key: None,
            ipam=ipam,
            # A runtime with no instance: `ipam check` finds every held address leaked.
            instances=functools.partial(FakeRuntime().list, Owner()),
        )
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield IpamApi(
            client=client,
            db=db,
            admin={"Authorization": f"Bearer {admin_secret}"},
            team={"Authorization": f"Bearer {team_secret}"},
            ipam=ipam,
        )
    db.close()
