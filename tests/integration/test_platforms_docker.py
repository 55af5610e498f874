"""Two Dockyard installations on one Docker engine: each one's orphan collector removes its
own unwanted containers and never another's, nor one made before platform labels existed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from dockyard.controller.orphans import OrphanCollector
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.ids import new_instance_id
from dockyard.domain.instance import InstanceSpec, Observed, Owner, Platform
from dockyard.domain.spec import ServiceSpec
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.store.db import Database
from dockyard.store.platform import this_platform
from tests.support.fixtures import TEST_NETWORK

pytestmark = pytest.mark.docker


class Installation:
    """A platform database of its own and the runtime the server would build from it."""

    def __init__(self, path: Path) -> None:
        self.db = Database.open(f"sqlite:///{path}")
        with self.db.reading() as connection:
            self.platform = this_platform(connection)
        self.runtime = DockerRuntime(network=TEST_NETWORK, platform=self.platform)
        # Grace 0: everything unwanted is removed at the first sweep.
        self.collector = OrphanCollector(self.db, self.runtime, clock=utcnow, grace_s=0)

    def close(self) -> None:
        self.runtime.close()
        self.db.close()


@pytest.fixture
def installations(tmp_path: Path) -> Iterator[tuple[Installation, Installation]]:
    one, two = Installation(tmp_path / "one.db"), Installation(tmp_path / "two.db")
    yield one, two
    one.close()
    two.close()


def spec(team: str, image: str) -> InstanceSpec:
    # A service neither database knows: to either collector, an orphan if it is its own.
    return InstanceSpec(
        team=team,
        service="web",
        env=Environment.TEST,
        revision=1,
        instance_id=new_instance_id(),
        spec=ServiceSpec(image=image, args=("sleep", "300"), stop_grace_s=1),
    )


def exists(client: docker.APIClient, observed: Observed) -> bool:
    try:
        client.inspect_container(observed.runtime_id)
    except NotFound:
        return False
    return True


def test_each_database_makes_a_platform_of_its_own(
    installations: tuple[Installation, Installation],
) -> None:
    one, two = installations
    assert one.platform.id != two.platform.id
    # New databases: no container made before platform labels can be theirs.
    assert not one.platform.adopts_unlabelled and not two.platform.adopts_unlabelled


async def test_orphan_collectors_of_two_platforms_remove_only_their_own(
    installations: tuple[Installation, Installation],
    docker_engine: docker.APIClient,
    docker_team: str,
    test_image: str,
) -> None:
    one, two = installations
    mine = await one.runtime.start(spec(docker_team, test_image))
    theirs = await two.runtime.start(spec(docker_team, test_image))
    unbound = DockerRuntime(network=TEST_NETWORK)  # as Dockyard made containers until now
    old = await unbound.start(spec(docker_team, test_image))
    unbound.close()

    removed = await one.collector.collect()

    assert [o.instance_id for o in removed] == [mine.instance_id]
    assert not exists(docker_engine, mine)
    assert exists(docker_engine, theirs) and exists(docker_engine, old)

    removed = await two.collector.collect()

    assert [o.instance_id for o in removed] == [theirs.instance_id]
    assert exists(docker_engine, old)


async def test_a_platform_adopting_old_containers_lists_them_but_never_collects_them(
    installations: tuple[Installation, Installation],
    docker_engine: docker.APIClient,
    docker_team: str,
    test_image: str,
) -> None:
    one, _ = installations
    unbound = DockerRuntime(network=TEST_NETWORK)  # as Dockyard made containers until now
    old = await unbound.start(spec(docker_team, test_image))
    unbound.close()
    # As a database that had services when it was migrated would be.
    upgraded = Platform(one.platform.id, adopts_unlabelled=True)
    runtime = DockerRuntime(network=TEST_NETWORK, platform=upgraded)
    try:
        listed = await runtime.list(Owner(team=docker_team))
        collector = OrphanCollector(one.db, runtime, clock=utcnow, grace_s=0)
        removed = await collector.collect()
    finally:
        runtime.close()

    assert [(o.instance_id, o.adopted) for o in listed] == [(old.instance_id, True)]
    assert removed == [] and exists(docker_engine, old)
