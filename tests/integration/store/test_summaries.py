"""The bulk reads: a team's services with each environment's status in one query, one service
in detail in a fixed number of queries, and service stamps that change with every change."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, NotFound, Unavailable
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store import environments, releases, services, status, summaries
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import ReleaseRef, ServiceStamp

from .store_support import ADMIN, SPEC, START, later, member


def _create(db: Database, team: str, *names: str) -> None:
    with db.session() as session:
        for name in names:
            services.create_service(session, ADMIN, team=team, name=name, spec=SPEC, now=START)


def _deploy(db: Database, team: str, service: str, env: Environment, *, replicas: int) -> int:
    with db.session() as session:
        release = releases.deploy(
            session, Change(ADMIN, START), team=team, service=service, env=env, replicas=replicas
        )
    return release.number


def _write_status(db: Database, team: str, service: str, *, revision: int) -> None:
    """A controller pass over `service` in test: one ready instance of `revision`."""
    record = InstanceRecord(
        id="i1", revision=revision, template_hash=SPEC.template_hash, runtime_id="c-1",
        state="running", health=Health.READY, ip="10.1.0.5", started_at=START,
        ready_at=later(seconds=2),
    )  # fmt: skip
    with db.session() as session:
        key = status.key_for(session, team=team, service=service, env=Environment.TEST)
        assert key is not None
        status.write_pass(
            session, key, records=[record],
            status=EnvStatus(EnvPhase.AVAILABLE, "1/1 ready", revision, 1, 1, 1),
            events=[], now=START,
        )  # fmt: skip


def test_service_state_and_releases_tell_what_get_service_and_environments_tell(
    db: Database, alpha: str, web: str
) -> None:
    _deploy(db, alpha, web, Environment.TEST, replicas=2)
    second = _deploy(db, alpha, web, Environment.TEST, replicas=1)
    _deploy(db, alpha, web, Environment.ONLINE, replicas=3)
    _write_status(db, alpha, web, revision=second)
    with db.session() as session:
        service = services.get_service(session, ADMIN, team=alpha, name=web)
        envs = environments.environments(session, ADMIN, team=alpha, service=web)
    with db.reading() as connection:
        state = summaries.service_state(connection, ADMIN, team=alpha, service=web)
        stamp, view, current = summaries.service_and_releases(
            connection, ADMIN, team=alpha, service=web
        )
    assert (stamp, view) == (state.stamp, service)
    assert current == {env.env: env.current for env in envs if env.current}
    assert [(e.env, e.current, e.status, e.instances) for e in state.envs] == [
        (e.env, ReleaseRef(e.current.number) if e.current else None, e.status, e.instances)
        for e in envs
    ]
    assert [e.current for e in state.envs] == [ReleaseRef(2), None, ReleaseRef(1), None]
    assert state.envs[0].instances[0].id == "i1"


def test_service_state_of_another_teams_or_a_deleted_service_is_not_found(
    db: Database, alpha: str, web: str
) -> None:
    with db.session() as session:
        services.delete_service(session, ADMIN, team=alpha, name=web, now=START)
    with db.reading() as connection:
        with pytest.raises(NotFound):
            summaries.service_state(connection, member("beta"), team=alpha, service=web)
        with pytest.raises(NotFound, match="'web' not found in team 'alpha'"):
            summaries.service_state(connection, ADMIN, team=alpha, service=web)
        with pytest.raises(NotFound, match="'web' not found in team 'alpha'"):
            summaries.service_and_releases(connection, ADMIN, team=alpha, service=web)


def test_team_summaries_give_each_environments_phase_counts_and_revision(
    db: Database, alpha: str
) -> None:
    _create(db, alpha, "web", "api", "gone", "worker")
    number = _deploy(db, alpha, "web", Environment.TEST, replicas=1)
    _write_status(db, alpha, "web", revision=number)
    _deploy(db, alpha, "api", Environment.ONLINE, replicas=2)
    with db.session() as session:
        services.delete_service(session, ADMIN, team=alpha, name="gone", now=START)
    with db.session() as session:
        found = summaries.team_summaries(session, member(alpha), team=alpha)
    assert [s.name for s in found] == ["api", "web", "worker"]
    web = {env.env: env for env in found[1].envs}
    assert list(web) == list(Environment)
    assert (web[Environment.TEST].status.phase, web[Environment.TEST].status.ready) == (
        "available", 1,
    )  # fmt: skip
    assert web[Environment.TEST].current == ReleaseRef(number)
    online = found[0].envs[2]
    assert (online.env, online.current, online.status.phase, online.status.message) == (
        Environment.ONLINE, ReleaseRef(1), "progressing", "waiting for the controller",
    )  # fmt: skip
    never = found[2].envs[0]
    assert (never.current, never.status.phase, never.status.message) == (
        None, "idle", "never deployed",
    )  # fmt: skip


def test_team_summaries_stop_at_the_limit_and_hide_other_teams(db: Database, alpha: str) -> None:
    _create(db, alpha, "c", "a", "b")
    with db.session() as session:
        assert [s.name for s in summaries.team_summaries(session, ADMIN, team=alpha, limit=2)] == [
            "a", "b",
        ]  # fmt: skip
        with pytest.raises(NotFound):
            summaries.team_summaries(session, member("beta"), team=alpha)
        with pytest.raises(Invalid):
            summaries.team_summaries(session, ADMIN, team=alpha, limit=0)


def test_a_service_stamp_changes_with_every_change_to_the_service(
    db: Database, alpha: str, web: str
) -> None:
    def stamp() -> ServiceStamp:
        with db.reading() as connection:
            (found,) = services.service_stamps(connection, ADMIN, team=alpha)
        return found

    created = stamp()
    with db.session() as session:
        services.update_service(
            session, ADMIN, team=alpha, name=web, spec=SPEC, now=later(seconds=1)
        )
    updated = stamp()
    assert (updated.id, updated.name) == (created.id, created.name)
    assert updated != created
    with db.session() as session:
        services.delete_service(session, ADMIN, team=alpha, name=web, now=later(seconds=2))
    with db.reading() as connection:
        assert services.service_stamps(connection, ADMIN, team=alpha) == []


def test_a_service_created_again_after_a_purge_gets_another_stamp(
    db: Database, alpha: str, web: str
) -> None:
    with db.reading() as connection:
        (before,) = services.service_stamps(connection, ADMIN, team=alpha)
    with db.session() as session:
        services.delete_service(session, ADMIN, team=alpha, name=web, now=START)
    with db.session() as session:
        assert status.purge_service(session, before.id)
    with db.session() as session:
        services.create_service(
            session, ADMIN, team=alpha, name=web, spec=SPEC, now=later(seconds=1)
        )
    with db.reading() as connection:
        (after,) = services.service_stamps(connection, ADMIN, team=alpha)
    assert after != before


def test_service_stamps_page_like_list_services(db: Database, alpha: str) -> None:
    _create(db, alpha, "d", "b", "a", "c")
    with db.reading() as connection:
        page = services.service_stamps(connection, ADMIN, team=alpha, limit=2, after="a")
        with pytest.raises(NotFound, match="team 'nope' not found"):
            services.service_stamps(connection, ADMIN, team="nope")
        assert services.service_stamps(connection, ADMIN, team=alpha, after="d") == []
    with db.session() as session:
        listed = services.list_services(session, ADMIN, team=alpha, limit=2, after="a")
    assert [s.name for s in page] == [s.name for s in listed] == ["b", "c"]


def test_ping_answers_and_a_database_that_cannot_open_is_unavailable(
    db: Database, tmp_path: Path
) -> None:
    db.ping()
    missing = Database.open(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", upgrade=False)
    try:
        with pytest.raises(Unavailable):
            missing.ping()
    finally:
        missing.close()
