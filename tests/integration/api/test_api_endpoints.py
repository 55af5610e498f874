"""The endpoints API: ready instances per service environment, visibility by the publish
setting, the stable fallback, 404s that leak nothing, the long poll and the watch."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.discovery.watch import EndpointWatch, Question
from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.store.db import Database
from dockyard.store.status import key_for, write_pass
from tests.support.serving import serve

from .api_support import API, START, MovableClock, TestClient, make_team

WEB = f"{API}/endpoints/alpha/web"


def deploy(client: TestClient, web: str, headers: dict[str, str], env: str) -> None:
    answer = client.post(f"{web}/envs/{env}/deploy", json={"replicas": 1}, headers=headers)
    assert answer.status_code == 201, answer.text


def write(db: Database, env: str, *records: InstanceRecord, service: str = "web") -> None:
    """What a controller pass writes for alpha/SERVICE in `env`."""
    with db.session() as session:
        key = key_for(session, team="alpha", service=service, env=Environment(env))
        assert key is not None
        status = EnvStatus(EnvPhase.AVAILABLE, "", 1, len(records), len(records), len(records))
        write_pass(session, key, records=list(records), status=status, events=[], now=START)


def inst(iid: str, ip: str, health: Health = Health.READY, **more: Any) -> InstanceRecord:
    fields: dict[str, Any] = {"ready_at": START if health is Health.READY else None, **more}
    return InstanceRecord(
        id=iid,
        revision=1,
        template_hash="h",
        runtime_id="c-" + iid,
        state="running",
        health=health,
        ip=ip,
        **fields,
    )


def addresses(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [e["address"] for e in answer.json()["endpoints"]]


@pytest.fixture
def deployed(client: TestClient, alpha: dict[str, str], web: str, db: Database) -> str:
    for env in ("test", "stable", "online"):
        deploy(client, web, alpha, env)
    write(db, "test", inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3", Health.STARTING))
    return web


def test_a_team_reads_its_ready_instances_with_their_revisions_ports(
    client: TestClient, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    answer = client.get(WEB, params={"env": "test"}, headers=alpha)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("team", "service", "env", "env_used")} == {
        "team": "alpha",
        "service": "web",
        "env": "test",
        "env_used": "test",
    }
    assert body["endpoints"] == [
        {
            "instance": "t1",
            "address": "10.1.0.2",
            "ports": [{"port": 8080, "protocol": "tcp", "name": ""}],
            "revision": 1,
            "ready_at": "2025-03-01T12:00:00Z",
            "host": None,
        }
    ]
    # A draining instance leaves the set (and the version changes) before it is stopped.
    write(db, "test", inst("t1", "10.1.0.2", Health.DRAINING, drain_until=START))
    after = client.get(WEB, params={"env": "test"}, headers=alpha).json()
    assert after["endpoints"] == [] and after["version"] != body["version"]


def test_unknown_and_unpublished_services_are_the_same_404(
    client: TestClient, admin: dict[str, str], alpha: dict[str, str], deployed: str
) -> None:
    beta = make_team(client, admin, "beta")
    unknown = client.get(f"{API}/endpoints/alpha/nope", params={"env": "test"}, headers=alpha)
    hidden = client.get(WEB, params={"env": "test"}, headers=beta)
    no_team = client.get(f"{API}/endpoints/zeta/web", params={"env": "test"}, headers=beta)
    for answer in (unknown, hidden, no_team):
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
    assert "publish" in hidden.json()["message"]
    assert addresses(client.get(WEB, params={"env": "test"}, headers=admin)) == ["10.1.0.2"]


@pytest.mark.parametrize(
    ("publish", "beta_sees"), [("all", True), (["beta"], True), (["gamma"], False)]
)
def test_a_published_service_is_seen_by_the_teams_it_names(
    client: TestClient,
    admin: dict[str, str],
    alpha: dict[str, str],
    deployed: str,
    publish: Any,
    beta_sees: bool,
) -> None:
    beta = make_team(client, admin, "beta")
    make_team(client, admin, "gamma")
    changed = client.patch(deployed, json={"publish": publish}, headers=alpha)
    assert changed.status_code == 200, changed.text
    assert changed.json()["spec"]["publish"] == publish
    answer = client.get(WEB, params={"env": "test"}, headers=beta)
    assert answer.status_code == (200 if beta_sees else 404)
    back = client.patch(deployed, json={"publish": "private"}, headers=alpha)
    assert back.json()["spec"]["publish"] == "private"
    assert client.get(WEB, params={"env": "test"}, headers=beta).status_code == 404


@pytest.mark.parametrize("publish", [[], ["Not A Team"], "everyone", None])
def test_a_malformed_publish_is_refused_and_nothing_changes(
    client: TestClient, alpha: dict[str, str], web: str, publish: Any
) -> None:
    answer = client.patch(web, json={"publish": publish}, headers=alpha)
    assert answer.status_code in (400, 422), answer.text
    assert client.get(web, headers=alpha).json()["spec"]["publish"] == "private"


def test_test_falls_back_to_stable_only_when_asked_and_only_when_empty(
    client: TestClient, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    write(db, "stable", inst("s1", "10.2.0.2"), inst("s2", "10.2.0.3"))
    write(db, "online", inst("o1", "10.9.0.2"))
    ask = {"env": "test", "fallback": "1"}
    found = client.get(WEB, params=ask, headers=alpha).json()
    assert found["env_used"] == "test" and len(found["endpoints"]) == 1
    write(db, "test", inst("t2", "10.1.0.3", Health.STARTING))  # none ready in test
    answer = client.get(WEB, params=ask, headers=alpha)
    assert answer.json()["env_used"] == "stable"
    assert addresses(answer) == ["10.2.0.2", "10.2.0.3"]
    assert addresses(client.get(WEB, params={"env": "test"}, headers=alpha)) == []
    write(db, "online", inst("o1", "10.9.0.2", Health.UNHEALTHY))
    online = client.get(WEB, params={"env": "online", "fallback": "1"}, headers=alpha).json()
    assert (online["env_used"], online["endpoints"]) == ("online", [])
    sandbox = client.get(WEB, params={"env": "sandbox", "fallback": "1"}, headers=alpha).json()
    assert (sandbox["env_used"], sandbox["endpoints"]) == ("sandbox", [])


def test_watch_and_wait_together_are_refused(
    client: TestClient, alpha: dict[str, str], deployed: str
) -> None:
    answer = client.get(WEB, params={"env": "test", "watch": 1, "wait": 1}, headers=alpha)
    assert answer.status_code == 400 and answer.json()["field"] == "wait"


@pytest.fixture
def served(deps: ApiDeps) -> Any:
    with serve(build_api(deps)) as url:
        yield url


@pytest.mark.timeout(30)
def test_a_long_poll_answers_at_its_timeout_or_at_the_change(
    served: str, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    with httpx.Client(base_url=served, headers=alpha, timeout=30) as http:
        current = http.get(WEB, params={"env": "test"}).json()["version"]
        began = time.monotonic()
        same = http.get(WEB, params={"env": "test", "since": current, "wait": 0.3})
        assert same.json()["version"] == current and time.monotonic() - began >= 0.3
        stale = http.get(WEB, params={"env": "test", "since": "old", "wait": 30})
        assert stale.json()["version"] == current  # at once: the caller's version is stale
        timer = threading.Timer(
            0.3, write, (db, "test", inst("t1", "10.1.0.2"), inst("t3", "10.1.0.4"))
        )
        timer.start()
        began = time.monotonic()
        changed = http.get(WEB, params={"env": "test", "since": current, "wait": 30})
        waited = time.monotonic() - began
        timer.join()
    assert addresses(changed) == ["10.1.0.2", "10.1.0.4"]
    assert 0.3 <= waited < 2.0


@pytest.mark.timeout(30)
def test_a_watch_sends_the_current_set_then_every_change(
    served: str, alpha: dict[str, str], deployed: str, db: Database, clock: MovableClock
) -> None:
    received: list[dict[str, Any]] = []
    got = threading.Semaphore(0)

    def read() -> None:
        with httpx.Client(base_url=served, headers=alpha, timeout=30) as http:
            params = {"env": "test", "watch": "1"}
            with http.stream("GET", WEB, params=params) as answer:
                assert answer.headers["content-type"].startswith("text/event-stream")
                name = ""
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        received.append({"event": name, **json.loads(line[6:])})
                        got.release()
                        if name == "error" or len(received) >= 4:
                            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert got.acquire(timeout=10)
    later = START + timedelta(seconds=5)
    steps = [
        (inst("t1", "10.1.0.2"), inst("t2", "10.1.0.3", ready_at=later)),  # t2 ready
        (
            inst("t1", "10.1.0.2", Health.DRAINING, drain_until=later),
            inst("t2", "10.1.0.3", ready_at=later),
        ),
        (inst("t2", "10.1.0.3", ready_at=later),),  # t1 stopped: not a change of the set
        (),
    ]
    for step in steps:
        write(db, "test", *step)
        time.sleep(0.2)
    reader.join(10)
    assert [(r["event"], addresses_of(r)) for r in received] == [
        ("endpoints", ["10.1.0.2"]),
        ("endpoints", ["10.1.0.2", "10.1.0.3"]),
        ("endpoints", ["10.1.0.3"]),
        ("endpoints", []),
    ]
    assert len({r["version"] for r in received}) == 4


def addresses_of(body: dict[str, Any]) -> list[str]:
    return [e["address"] for e in body["endpoints"]]


@pytest.mark.timeout(30)
def test_a_watch_from_the_current_version_waits_and_ends_when_the_service_goes(
    served: str, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    with httpx.Client(base_url=served, headers=alpha, timeout=30) as http:
        current = http.get(WEB, params={"env": "test"}).json()["version"]
        threading.Timer(0.3, lambda: http.delete(deployed)).start()
        with http.stream("GET", WEB, params={"env": "test", "watch": "1", "since": current}) as s:
            events = [line for line in s.iter_lines() if line.startswith(("event:", "data:"))]
    assert events[0] == "event: error"
    assert json.loads(events[1][6:])["retry"] is False


@pytest.mark.timeout(30)
async def test_the_poller_runs_only_while_something_is_watched(
    client: TestClient, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    watch = EndpointWatch(db, interval_s=0.01)
    changes = watch.follow(Question("alpha", "web", Environment.TEST, fallback=True), since=None)
    first = await anext(changes)
    assert [e.instance for e in first.endpoints] == ["t1"]
    assert (watch.watched, watch.polling) == (2, True)  # test and its fallback, stable
    write(db, "test")
    second = await asyncio.wait_for(anext(changes), 5)
    assert (second.env_used, second.endpoints) == (Environment.TEST, ())
    write(db, "stable", inst("s1", "10.2.0.2"))
    third = await asyncio.wait_for(anext(changes), 5)
    assert (third.env_used, [e.address for e in third.endpoints]) == (
        Environment.STABLE,
        ["10.2.0.2"],
    )
    await changes.aclose()
    await asyncio.sleep(0.1)
    assert (watch.watched, watch.polling) == (0, False)


class CountingWatch(EndpointWatch):
    reads = 0

    def read(self, question: Question) -> Any:
        self.reads += 1
        return super().read(question)


async def settled(watch: CountingWatch, *, quiet_s: float = 0.2, most_s: float = 5.0) -> int:
    """The watch's read count once no read came for `quiet_s` (a loaded machine may take more
    than any fixed pause for the poller's first look)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + most_s
    seen = watch.reads
    while loop.time() < deadline:
        await asyncio.sleep(quiet_s)
        if watch.reads == seen:
            return seen
        seen = watch.reads
    raise AssertionError("the watchers kept reading")


@pytest.mark.timeout(30)
async def test_watchers_of_one_question_share_one_read_per_change(
    client: TestClient, alpha: dict[str, str], deployed: str, db: Database
) -> None:
    watch = CountingWatch(db, interval_s=0.01, recheck_s=60)  # no unwoken reads
    question = Question("alpha", "web", Environment.TEST, caller="alpha")
    watchers = [watch.follow(question, since=None) for _ in range(10)]
    for changes in watchers:
        await anext(changes)
    before = await settled(watch)  # the poller's first look at the key wakes each once
    write(db, "test", inst("t1", "10.1.0.2"), inst("t3", "10.1.0.4"))
    answers = [await asyncio.wait_for(anext(changes), 5) for changes in watchers]
    assert {len(found.endpoints) for found in answers} == {2}
    assert watch.reads - before == 1
    for changes in watchers:
        await changes.aclose()
    assert watch.watched == 0
