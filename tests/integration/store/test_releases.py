"""Releases: every deploy, scale and rollback appends a numbered revision to one environment."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.store import releases
from dockyard.store.db import Database
from dockyard.store.views import ReleaseView

from .store_support import ADMIN, SPEC, later, member, snapshot

TEST = Environment.TEST


def _deploy(db: Database, *, minute: int = 0, **options: Any) -> ReleaseView:
    """Deploy alpha/web to `test` (unless `env=` says otherwise) as the alpha team."""
    env = options.pop("env", TEST)
    change = releases.Change(member("alpha"), later(minutes=minute), options.pop("expected", None))
    with db.session() as session:
        return releases.deploy(session, change, team="alpha", service="web", env=env, **options)


def _scale(db: Database, replicas: int) -> ReleaseView:
    with db.session() as session:
        return releases.scale(
            session,
            releases.Change(ADMIN, later(hours=1)),
            team="alpha",
            service="web",
            env=TEST,
            replicas=replicas,
        )


def _rollback(db: Database, to: int | None = None) -> ReleaseView:
    with db.session() as session:
        return releases.rollback(
            session,
            releases.Change(ADMIN, later(hours=2)),
            team="alpha",
            service="web",
            env=TEST,
            to=to,
        )


def _history(db: Database, env: Environment = TEST) -> list[ReleaseView]:
    with db.session() as session:
        return releases.history(session, ADMIN, team="alpha", service="web", env=env)


@pytest.mark.usefixtures("web")
def test_revisions_are_numbered_from_one_per_environment(db: Database) -> None:
    made = [_deploy(db, image=f"alpha/web:{n}", minute=n) for n in (1, 2, 3)]
    online = _deploy(db, env=Environment.ONLINE)

    assert [r.number for r in made] == [1, 2, 3]
    assert [(r.number, r.spec.image) for r in _history(db)] == [
        (3, "alpha/web:3"),
        (2, "alpha/web:2"),
        (1, "alpha/web:1"),
    ]
    assert online.number == 1
    first = _history(db)[-1]
    assert (first.created_by, first.created_at, first.cause) == (
        "alpha/ci",
        later(minutes=1),
        "deploy alpha/web:1",
    )


@pytest.mark.usefixtures("web")
def test_a_first_deploy_takes_the_template_image_and_one_replica(db: Database) -> None:
    first = _deploy(db)
    assert (first.spec.image, first.replicas) == (SPEC.image, releases.DEFAULT_REPLICAS)


@pytest.mark.usefixtures("web")
def test_a_deploy_carries_over_image_and_replicas_unless_given(db: Database) -> None:
    _deploy(db, image="alpha/web:7", replicas=3)
    carried = _deploy(db)
    replaced = _deploy(db, image="alpha/web:8", replicas=2)
    assert (carried.spec.image, carried.replicas) == ("alpha/web:7", 3)
    assert (replaced.spec.image, replaced.replicas) == ("alpha/web:8", 2)


@pytest.mark.usefixtures("web")
def test_deploy_env_vars_are_merged_over_the_template(db: Database) -> None:
    got = _deploy(db, env_vars={"B": "3", "C": "4"})
    assert dict(got.spec.env) == {"A": "1", "B": "3", "C": "4"}
    assert dict(_deploy(db).spec.env) == dict(SPEC.env)  # overrides are per deploy


@pytest.mark.usefixtures("web")
def test_scaling_keeps_the_template_and_changes_only_replicas(db: Database) -> None:
    deployed = _deploy(db, image="alpha/web:2", replicas=2)
    scaled = _scale(db, 5)
    assert (scaled.number, scaled.replicas, scaled.cause) == (2, 5, "scale 2 -> 5")
    assert scaled.template_hash == deployed.template_hash
    assert scaled.spec == deployed.spec


@pytest.mark.usefixtures("web")
def test_rolling_back_reapplies_the_previous_revision_as_a_new_one(db: Database) -> None:
    _deploy(db, image="alpha/web:1", replicas=2)
    _deploy(db, image="alpha/web:2", replicas=4)
    back = _rollback(db)
    assert (back.number, back.spec.image, back.replicas, back.cause) == (
        3,
        "alpha/web:1",
        2,
        "rollback to 1",
    )


@pytest.mark.usefixtures("web")
def test_rolling_back_to_a_chosen_revision(db: Database) -> None:
    for n in (1, 2, 3):
        _deploy(db, image=f"alpha/web:{n}", replicas=n)
    back = _rollback(db, to=2)
    assert (back.number, back.spec.image, back.replicas) == (4, "alpha/web:2", 2)


@pytest.mark.parametrize(
    ("deployed", "to", "error", "says"),
    [
        (0, None, Conflict, "never been deployed"),
        (1, None, Invalid, "no earlier one"),
        (2, 2, Invalid, "already current"),
        (2, 9, NotFound, "revision 9"),
    ],
    ids=["never-deployed", "only-one", "to-current", "to-missing"],
)
@pytest.mark.usefixtures("web")
def test_impossible_rollbacks_are_refused_and_write_nothing(
    db: Database, deployed: int, to: int | None, error: type[Exception], says: str
) -> None:
    for n in range(deployed):
        _deploy(db, image=f"alpha/web:{n + 1}")
    before = snapshot(db)
    with pytest.raises(error, match=says):
        _rollback(db, to=to)
    assert snapshot(db) == before


@pytest.mark.usefixtures("web")
def test_scaling_a_never_deployed_environment_is_a_conflict(db: Database) -> None:
    with pytest.raises(Conflict, match="deploy it first"):
        _scale(db, 2)
    assert _history(db) == []


@pytest.mark.usefixtures("web")
def test_a_change_based_on_a_stale_revision_is_a_conflict(db: Database) -> None:
    _deploy(db)
    _deploy(db, expected=1)
    with pytest.raises(Conflict, match="at revision 2, not 1"):
        _deploy(db, expected=1, image="alpha/web:9")
    assert [r.number for r in _history(db)] == [2, 1]


@pytest.mark.parametrize(
    ("options", "field"),
    [({"image": "Not An Image"}, "image"), ({"replicas": -1}, "replicas")],
)
@pytest.mark.usefixtures("web")
def test_an_invalid_deploy_writes_nothing(
    db: Database, options: dict[str, Any], field: str
) -> None:
    before = snapshot(db)
    with pytest.raises(Invalid) as refused:
        _deploy(db, **options)
    assert refused.value.field == field
    assert snapshot(db) == before


@pytest.mark.usefixtures("web")
def test_a_single_revision_is_read_by_number(db: Database) -> None:
    _deploy(db, image="alpha/web:1")
    _deploy(db, image="alpha/web:2")
    with db.session() as session:
        got = releases.get_release(session, ADMIN, team="alpha", service="web", env=TEST, number=1)
        with pytest.raises(NotFound):
            releases.get_release(session, ADMIN, team="alpha", service="web", env=TEST, number=3)
    assert got.spec.image == "alpha/web:1"


@pytest.mark.usefixtures("web")
def test_the_longest_image_reference_can_be_deployed(db: Database) -> None:
    digest = "@sha256:" + "0" * 64
    image = "registry.example.com/" + "a" * (255 - 21 - 3 - len(digest)) + ":v1" + digest
    assert len(image) == 255
    deployed = _deploy(db, image=image)
    assert [r.spec.image for r in _history(db)] == [image]
    assert image in deployed.cause
