"""The controller's side: which keys to look after, what each wants, and what a pass writes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import environments, releases, services, status
from dockyard.store.db import Database
from dockyard.store.models import (
    EnvironmentRow,
    EnvStatusRow,
    EventRow,
    InstanceRow,
    ReleaseRow,
    ServiceRow,
)

from .store_support import ADMIN, SPEC, START, count, later

TEST, ONLINE = Environment.TEST, Environment.ONLINE
AVAILABLE = EnvStatus(EnvPhase.AVAILABLE, "2 of 2 ready", revision=1, desired=2, ready=2, updated=2)


def _create(db: Database, name: str) -> int:
    with db.session() as session:
        services.create_service(session, ADMIN, team="alpha", name=name, spec=SPEC, now=START)
        service_id = session.scalar(select(ServiceRow.id).where(ServiceRow.name == name))
    assert service_id is not None
    return service_id


def _deploy(db: Database, name: str, env: Environment, replicas: int = 2) -> None:
    with db.session() as session:
        releases.deploy(
            session,
            releases.Change(ADMIN, START),
            team="alpha",
            service=name,
            env=env,
            replicas=replicas,
        )


def _instance(iid: str, *, revision: int = 1, health: Health = Health.READY) -> InstanceRecord:
    return InstanceRecord(
        id=iid,
        revision=revision,
        template_hash=SPEC.template_hash,
        runtime_id=f"ctr-{iid}",
        state="running",
        health=health,
        ip="10.0.0.2",
        started_at=START,
        ready_at=later(seconds=3) if health == Health.READY else None,
    )


def _pass(
    db: Database,
    key: EnvKey,
    records: list[InstanceRecord],
    *,
    state: EnvStatus = AVAILABLE,
    events: list[tuple[str, str]] | None = None,
    minute: int = 0,
) -> None:
    with db.session() as session:
        status.write_pass(
            session,
            key,
            records=records,
            status=state,
            events=events or [],
            now=later(minutes=minute),
        )


def _records(db: Database, key: EnvKey) -> dict[str, InstanceRecord]:
    with db.session() as session:
        return {r.id: r for r in status.instance_records(session, key)}


@pytest.mark.usefixtures("alpha")
def test_a_pass_replaces_instance_rows_and_appends_events(db: Database) -> None:
    key = EnvKey(_create(db, "web"), TEST)
    _pass(db, key, [_instance("a"), _instance("b")], events=[("started", "a, b")])
    unhealthy = _instance("b", health=Health.UNHEALTHY)
    _pass(db, key, [unhealthy, _instance("c", revision=2)], events=[("replaced", "a")], minute=1)

    assert _records(db, key) == {"b": unhealthy, "c": _instance("c", revision=2)}
    with db.session() as session:
        told = environments.events(session, ADMIN, team="alpha", service="web")
    assert [(e.kind, e.message, e.at) for e in told] == [
        ("replaced", "a", later(minutes=1)),
        ("started", "a, b", START),
    ]


@pytest.mark.usefixtures("alpha")
def test_a_pass_touches_only_its_own_key(db: Database) -> None:
    test, online = EnvKey(_create(db, "web"), TEST), EnvKey(_create(db, "api"), TEST)
    _pass(db, test, [_instance("a")])
    _pass(db, online, [_instance("x")])
    _pass(db, test, [])
    assert (_records(db, test), list(_records(db, online))) == ({}, ["x"])


@pytest.mark.usefixtures("alpha")
def test_keys_are_deployed_running_or_deleted_services(db: Database) -> None:
    deployed, running, deleted = (
        _create(db, "deployed"),
        _create(db, "running"),
        _create(db, "gone"),
    )
    _create(db, "idle")  # never deployed, nothing running: nothing to look after
    _deploy(db, "deployed", ONLINE)
    _pass(db, EnvKey(running, Environment.STABLE), [_instance("a")])
    with db.session() as session:
        services.delete_service(session, ADMIN, team="alpha", name="gone", now=START)

    with db.session() as session:
        keys = status.keys(session)
        owned = status.owned_keys(session)

    assert set(keys) == {
        EnvKey(deployed, ONLINE),
        EnvKey(running, Environment.STABLE),
        EnvKey(deleted, TEST),
    }
    assert owned == {
        ("alpha", "deployed", "online"),
        ("alpha", "running", "stable"),
        ("alpha", "gone", "test"),
    }


@pytest.mark.usefixtures("alpha")
def test_desired_state_follows_the_current_revision(db: Database) -> None:
    service_id = _create(db, "web")
    _deploy(db, "web", TEST, replicas=3)
    with db.session() as session:
        wanted = status.desired(session, EnvKey(service_id, TEST))
        never = status.desired(session, EnvKey(service_id, ONLINE))
        unknown = status.desired(session, EnvKey(service_id + 1000, TEST))

    assert wanted is not None and wanted.release is not None
    assert (wanted.team, wanted.service, wanted.replicas) == ("alpha", "web", 3)
    assert (wanted.release.number, wanted.deleting) == (1, False)
    assert never is not None and (never.release, never.replicas) == (None, 0)
    assert unknown is None


@pytest.mark.usefixtures("alpha")
def test_a_deleting_service_wants_no_replicas(db: Database) -> None:
    service_id = _create(db, "web")
    _deploy(db, "web", TEST, replicas=3)
    with db.session() as session:
        services.delete_service(session, ADMIN, team="alpha", name="web", now=START)
    with db.session() as session:
        wanted = status.desired(session, EnvKey(service_id, TEST))
    assert wanted is not None and wanted.release is not None
    assert (wanted.deleting, wanted.replicas, wanted.release.replicas) == (True, 0, 3)


@pytest.mark.usefixtures("alpha")
def test_last_status_returns_what_the_previous_pass_wrote(db: Database) -> None:
    key = EnvKey(_create(db, "web"), TEST)
    with db.session() as session:
        assert status.last_status(session, key) is None

    progressing = EnvStatus(
        EnvPhase.PROGRESSING, "1 of 2", revision=1, desired=2, ready=1, updated=1
    )
    _pass(db, key, [], state=progressing, minute=1)
    _pass(db, key, [], state=AVAILABLE, minute=2)  # same revision: the rollout began at 1
    with db.session() as session:
        same = status.last_status(session, key)
    _pass(db, key, [], state=EnvStatus(EnvPhase.PROGRESSING, "", 2, 2, 0, 0), minute=3)
    with db.session() as session:
        newer = status.last_status(session, key)

    assert same == status.LastStatus(EnvPhase.AVAILABLE, "2 of 2 ready", 1, later(minutes=1))
    assert newer == status.LastStatus(EnvPhase.PROGRESSING, "", 2, later(minutes=3))


@pytest.mark.usefixtures("alpha")
def test_purging_waits_until_no_instance_is_left(db: Database) -> None:
    service_id = _create(db, "web")
    key = EnvKey(service_id, TEST)
    _deploy(db, "web", TEST)
    _pass(db, key, [_instance("a")], events=[("started", "a")])
    with db.session() as session:
        services.delete_service(session, ADMIN, team="alpha", name="web", now=START)

    with db.session() as session:
        assert not status.purge_service(session, service_id)
    assert count(db, ServiceRow, id=service_id) == 1

    _pass(db, key, [], events=[("stopped", "a")])
    with db.session() as session:
        assert status.purge_service(session, service_id)
    for table in (ServiceRow, EnvironmentRow, ReleaseRow, EnvStatusRow, InstanceRow, EventRow):
        column = "id" if table is ServiceRow else "service_id"
        assert count(db, table, **{column: service_id}) == 0, table.__tablename__


@pytest.mark.usefixtures("alpha")
def test_a_live_service_is_never_purged(db: Database) -> None:
    service_id = _create(db, "web")
    with db.session() as session:
        assert not status.purge_service(session, service_id)
        assert not status.purge_service(session, service_id + 1000)
    assert count(db, EnvironmentRow, service_id=service_id) == 4


@pytest.mark.usefixtures("alpha")
def test_two_passes_purging_one_service_at_once_both_succeed_quietly(db: Database) -> None:
    # Each environment's pass purges an emptied service: the second one finds it gone.
    service_id = _create(db, "web")
    with db.session() as session:
        services.delete_service(session, ADMIN, team="alpha", name="web", now=START)
    with db.session() as second:
        assert second.get(ServiceRow, service_id) is not None  # read before the other purges
        with db.session() as first:
            assert status.purge_service(first, service_id)
        assert not status.purge_service(second, service_id)
    assert count(db, ServiceRow, id=service_id) == 0
