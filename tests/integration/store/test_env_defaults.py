"""Environment default limits: a deploy resolves a template's unset limits with them; scale and
rollback keep a revision's; migration 0007 leaves what runs unchanged."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Forbidden, Invalid
from dockyard.domain.spec import Resources, ServiceSpec
from dockyard.store import env_defaults, releases, services, teams
from dockyard.store.db import Database, open_engine
from dockyard.store.models import Base, EnvironmentDefaultsRow
from dockyard.store.releases import Change

from .store_support import ADMIN, START, later, member
from .test_migrations import _ROWS, _move

TEST = Environment.TEST
OWN_CPUS = ServiceSpec(image="alpha/web:1", resources=Resources(cpus=2.0), resources_own=("cpus",))


def _service(db: Database, spec: ServiceSpec) -> None:
    with db.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
        services.create_service(session, ADMIN, team="alpha", name="web", spec=spec, now=START)


def _deploy(db: Database, env: Environment = TEST) -> ServiceSpec:
    with db.session() as session:
        change = Change(ADMIN, later(minutes=1))
        return releases.deploy(session, change, team="alpha", service="web", env=env).spec


def _set(db: Database, env: Environment, **limits: Any) -> None:
    with db.session() as session:
        env_defaults.set_defaults(session, ADMIN, env=env, now=later(seconds=1), **limits)


def test_every_environment_starts_with_the_limits_services_got_before(db: Database) -> None:
    with db.session() as session:
        found = env_defaults.all_defaults(session)
    assert [view.env for view in found] == list(Environment)
    assert {view.defaults for view in found} == {Resources(cpus=0.5, memory_mb=256, pids=512)}
    assert {view.updated_by for view in found} == {"migration"}


def test_a_deploy_takes_the_default_of_its_environment_for_unset_limits(db: Database) -> None:
    _service(db, OWN_CPUS)
    _set(db, TEST, memory_mb=1024, pids=2048)

    spec = _deploy(db)

    assert spec.resources == Resources(cpus=2.0, memory_mb=1024, pids=2048)
    assert spec.resources_own == ("cpus",)
    assert _deploy(db, Environment.ONLINE).resources == Resources(2.0, 256, 512)


def test_a_changed_default_reaches_a_service_at_its_next_deploy_only(db: Database) -> None:
    _service(db, OWN_CPUS)
    first = _deploy(db)
    _set(db, TEST, cpus=8.0, memory_mb=512)

    with db.session() as session:  # what runs is the revision's: unchanged
        running = releases.get_release(
            session, ADMIN, team="alpha", service="web", env=TEST, number=1
        )
        change = Change(ADMIN, later(minutes=2))
        scaled = releases.scale(session, change, team="alpha", service="web", env=TEST, replicas=3)
    assert running.spec == first and scaled.spec == first  # scale copies the revision

    redeployed = _deploy(db)
    assert redeployed.resources == Resources(cpus=2.0, memory_mb=512, pids=512)  # own cpus kept
    assert redeployed.template_hash != first.template_hash

    with db.session() as session:
        change = Change(ADMIN, later(minutes=3))
        back = releases.rollback(session, change, team="alpha", service="web", env=TEST, to=1)
    assert back.spec.resources == first.resources  # a rollback restores the old limits


def test_only_the_admin_sets_defaults_and_they_stay_in_range(db: Database) -> None:
    with db.session() as session, pytest.raises(Forbidden):
        env_defaults.set_defaults(session, member("alpha"), env=TEST, cpus=4.0, now=START)
    with db.session() as session, pytest.raises(Invalid, match=r"resources\.cpus"):
        env_defaults.set_defaults(session, ADMIN, env=TEST, cpus=500.0, now=START)


def _old_spec(**resources: Any) -> dict[str, Any]:
    """A spec as stored before 0007: full resources, no `resources_own`."""
    spec = ServiceSpec(image="alpha/web:1", resources=Resources(**resources)).to_json()
    del spec["resources_own"]
    return spec


def test_migration_keeps_what_runs_and_leaves_former_defaults_to_the_environment(
    url: str,
) -> None:
    database = Database(open_engine(url))
    try:
        _move(database, command.upgrade, "0006")
        rows = copy.deepcopy(_ROWS)
        spec = _old_spec(cpus=2.0, memory_mb=256, pids=512)
        hashed = ServiceSpec.from_json(spec).template_hash
        rows[1][1]["spec"] = spec
        rows[2][1].update(spec=spec, template_hash=hashed)
        del rows[2][1]["id"]  # PostgreSQL's sequence must hand out the next deploy's id
        with database.engine.begin() as connection:
            for table, row in rows:
                connection.execute(insert(table), row)
            connection.execute(
                insert(Base.metadata.tables["environments"]),
                {"service_id": 1, "name": "test", "current_revision": 1, "version": 1},
            )
        _move(database, command.upgrade, "heads")

        with database.session() as session:
            template = services.get_service(session, ADMIN, team="alpha", name="web").spec
            running = releases.get_release(
                session, ADMIN, team="alpha", service="web", env=TEST, number=1
            ).spec
            defaults = session.scalars(select(EnvironmentDefaultsRow)).all()
        assert template.resources_own == running.resources_own == ("cpus",)
        assert running.template_hash == hashed  # instances carry this hash: none is replaced
        assert len(defaults) == 4
        with database.session() as session:
            change = Change(ADMIN, later(hours=1))
            again = releases.deploy(session, change, team="alpha", service="web", env=TEST)
        assert again.template_hash == hashed  # the next deploy resolves the very same limits
    finally:
        database.close()
