"""Two changes to one environment at the same moment: one wins, the other is told to retry.

The interleaving is forced, not hoped for: a barrier inside `releases._append` holds each change
until both have read the environment, so both believe the same revision is current. Neither
waits on the other before the barrier, and after it PostgreSQL's row lock (or SQLite's write
lock) makes the loser wait only until the winner commits, so the test cannot deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict
from dockyard.store import releases
from dockyard.store.db import Database
from dockyard.store.views import ReleaseView

from .store_support import ADMIN, START

TEST = Environment.TEST
WAIT_S = 20.0

Verb = Callable[[Session], ReleaseView]


def _deploy(image: str) -> Verb:
    def run(session: Session) -> ReleaseView:
        change = releases.Change(ADMIN, START)
        return releases.deploy(session, change, team="alpha", service="web", env=TEST, image=image)

    return run


def _scale(replicas: int) -> Verb:
    def run(session: Session) -> ReleaseView:
        change = releases.Change(ADMIN, START)
        return releases.scale(
            session, change, team="alpha", service="web", env=TEST, replicas=replicas
        )

    return run


def _rollback(session: Session) -> ReleaseView:
    change = releases.Change(ADMIN, START)
    return releases.rollback(session, change, team="alpha", service="web", env=TEST)


def _race(db: Database, monkeypatch: pytest.MonkeyPatch, verbs: list[Verb]) -> list[Any]:
    """Run `verbs` in threads, each in its own transaction, all past their reads before any
    writes; return what each returned or raised."""
    barrier = threading.Barrier(len(verbs), timeout=WAIT_S)
    original = releases._append

    def held(*args: Any, **kwargs: Any) -> Any:
        barrier.wait()  # every change has read the environment; now let them write
        return original(*args, **kwargs)

    monkeypatch.setattr(releases, "_append", held)
    outcomes: list[Any] = [None] * len(verbs)

    def worker(index: int) -> None:
        try:
            with db.session() as session:
                outcomes[index] = verbs[index](session)
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(verbs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    assert not any(t.is_alive() for t in threads), "a concurrent change never finished"
    monkeypatch.setattr(releases, "_append", original)
    return outcomes


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "verbs",
    [
        [_deploy("alpha/web:2"), _deploy("alpha/web:3")],
        [_deploy("alpha/web:2"), _scale(4)],
        [_scale(3), _rollback],
    ],
    ids=["deploy-deploy", "deploy-scale", "scale-rollback"],
)
@pytest.mark.usefixtures("web")
def test_of_two_concurrent_changes_one_wins_and_the_other_is_a_conflict(
    db: Database, monkeypatch: pytest.MonkeyPatch, verbs: list[Verb]
) -> None:
    with db.session() as session:  # revisions 1 and 2 exist, so a rollback has a target
        _deploy("alpha/web:1")(session)
    with db.session() as session:
        _deploy("alpha/web:1")(session)

    outcomes = _race(db, monkeypatch, verbs)

    won = [o for o in outcomes if isinstance(o, ReleaseView)]
    lost = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    with db.session() as session:
        history = releases.history(session, ADMIN, team="alpha", service="web", env=TEST)
    assert [r.number for r in history] == [3, 2, 1]
    assert (history[0].spec, history[0].replicas) == (won[0].spec, won[0].replicas)
