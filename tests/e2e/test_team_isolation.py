"""Team isolation as a matrix: every operation of the OpenAPI document, and every request of the
git remotes, made with another team's token against one team's things. Each answers 404 (the
thing is not there for that team) or 403 (an admin-only action: refused before anything is
looked up, so it tells nothing), or, for the reads every token may make, an answer that holds
none of the other team's data; and none changes anything.

`CASES` says how to make each operation's request. It is checked against the document: an
operation without a case fails `test_every_operation_has_an_isolation_case`, so a new route
cannot land without saying how it keeps teams apart.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.api import ApiDeps, build_api
from tests.support.fuzzing import FuzzTarget, fuzz_target

VICTIM, SERVICE, OTHER = "victim", "secretsvc", "bravo"
SEGMENT, ADDRESS = "vseg", "10.77.0.10"
MARKERS = (VICTIM, SERVICE, f"{VICTIM}/{SERVICE}", ADDRESS)
"""Strings only the victim's data holds: an answer to the other team holding one leaked it."""

T = "/api/v1/teams/{team}"
S = T + "/services/{svc}"
R = T + "/services/{service}/alarm-rules"
RULE = {"env": "test", "threshold": {"metric": "memory", "op": ">", "value": 90}}

HIDDEN, ADMIN, OWN, UNAUTHORIZED = "hidden", "admin", "own", "unauthorized"
"""404: not there for this team. 403: admin only. 200 with the caller's own things only. 401:
a door for one platform credential, which no team token is."""


@dataclass(frozen=True)
class Case:
    expect: str
    body: Any = None
    query: str = ""


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(OWN),
    ("GET", "/api/v1/whoami"): Case(OWN),
    ("GET", "/api/v1/tokens"): Case(OWN),
    ("GET", "/api/v1/teams"): Case(OWN),
    ("POST", "/api/v1/teams"): Case(ADMIN, {"name": "intruder"}),
    ("GET", T): Case(HIDDEN),
    ("DELETE", T): Case(ADMIN),
    ("POST", T + "/tokens"): Case(ADMIN, {"name": "stolen"}),
    ("DELETE", "/api/v1/tokens/{token_id}"): Case(ADMIN),
    ("GET", T + "/services"): Case(HIDDEN),
    ("POST", T + "/services"): Case(HIDDEN, {"name": "planted", "image": "bravo/x:1"}),
    ("GET", S): Case(HIDDEN),
    ("PATCH", S): Case(HIDDEN, {"image": "bravo/evil:1"}),
    ("DELETE", S): Case(HIDDEN),
    ("GET", T + "/drains"): Case(HIDDEN),
    ("POST", T + "/drains"): Case(HIDDEN, {"name": "planted", "kind": "http", "url": "http://x/"}),
    ("GET", T + "/drains/{name}"): Case(HIDDEN),
    ("DELETE", T + "/drains/{name}"): Case(HIDDEN),
    ("GET", S + "/envs"): Case(HIDDEN),
    ("GET", S + "/envs/{env}"): Case(HIDDEN),
    ("POST", S + "/envs/{env}/deploy"): Case(HIDDEN, {"image": "bravo/evil:1"}),
    ("POST", S + "/envs/{env}/scale"): Case(HIDDEN, {"replicas": 3}),
    ("POST", S + "/envs/{env}/rollback"): Case(HIDDEN, {"to": 1}),
    ("GET", S + "/envs/{env}/revisions"): Case(HIDDEN),
    ("GET", S + "/envs/{env}/revisions/{n}"): Case(HIDDEN),
    ("GET", S + "/envs/{env}/instances"): Case(HIDDEN),
    ("GET", S + "/events"): Case(HIDDEN),
    ("GET", S + "/autoscaling"): Case(HIDDEN, query="env=test"),
    ("PUT", S + "/autoscaling"): Case(
        HIDDEN, {"min": 1, "max": 2, "metric": "cpu", "target_percent": 50}, query="env=test"
    ),
    ("DELETE", S + "/autoscaling"): Case(HIDDEN, query="env=test"),
    ("POST", S + "/autoscaling/pause"): Case(HIDDEN, query="env=test"),
    ("POST", S + "/autoscaling/resume"): Case(HIDDEN, query="env=test"),
    ("GET", S + "/autoscaling/envs"): Case(HIDDEN),
    ("GET", S + "/logs"): Case(HIDDEN, query="env=test"),
    ("GET", S + "/logs/context"): Case(HIDDEN, query="env=test&instance=0123456789&seq=1"),
    ("GET", S + "/logs/follow"): Case(HIDDEN, query="env=test"),
    ("GET", S + "/logs/download"): Case(HIDDEN, query="env=test&since=2000-01-01T00:00:00Z"),
    ("GET", "/api/v1/logs/stats"): Case(HIDDEN, query=f"team={VICTIM}&service={SERVICE}&env=test"),
    # A private service's endpoints (the default) are the owner's only.
    ("GET", "/api/v1/endpoints/{team}/{svc}"): Case(HIDDEN, query="env=test"),
    ("PUT", S + "/source"): Case(HIDDEN, {"repo_url": "https://git.invalid/evil.git"}),
    ("GET", S + "/source"): Case(HIDDEN),
    ("PUT", S + "/source/hosted"): Case(HIDDEN, {"branch": "evil"}),
    ("GET", S + "/git"): Case(HIDDEN),
    ("POST", S + "/builds"): Case(HIDDEN, {"ref": "main"}),
    ("GET", S + "/builds"): Case(HIDDEN),
    ("GET", S + "/builds/{number}"): Case(HIDDEN),
    ("GET", S + "/builds/{number}/log"): Case(HIDDEN),
    ("GET", S + "/images"): Case(HIDDEN),
    # No instance runs (the target's engine runs nothing): this shows the route asks whose
    # instance it is only as far as a made-up id can.
    ("GET", T + "/instances/{instance}/provenance"): Case(HIDDEN),
    ("POST", "/api/v1/images/retention"): Case(ADMIN, {"dry_run": False}),
    ("GET", S + "/promotion"): Case(HIDDEN),
    ("PUT", S + "/promotion/policy"): Case(HIDDEN, {"soak_s": 1}),
    ("POST", S + "/promotions"): Case(HIDDEN, {"from": "test", "to": "sandbox"}),
    ("POST", S + "/approvals"): Case(HIDDEN, {}),
    ("GET", S + "/overrides"): Case(HIDDEN),
    ("PUT", S + "/envs/{env}/overrides"): Case(HIDDEN, {"replicas": 9}),
    ("GET", "/api/v1/bandwidth"): Case(OWN),
    # Default limits are the platform's: any token reads them, only the admin sets them.
    ("GET", "/api/v1/environments"): Case(OWN),
    ("GET", "/api/v1/environments/{env}"): Case(OWN),
    ("PATCH", "/api/v1/environments/{env}"): Case(ADMIN, {"cpus": 8.0}),
    # Segments are the platform's, not a team's: any token reads them, never a team's data.
    ("GET", "/api/v1/segments"): Case(OWN),
    ("GET", "/api/v1/segments/{name}"): Case(OWN),
    (
        "POST",
        "/api/v1/segments",
    ): Case(ADMIN, {"name": "evil", "cidr": "10.78.0.0/24", "environments": ["test"]}),
    ("DELETE", "/api/v1/segments/{name}"): Case(ADMIN),
    ("GET", "/api/v1/ipam/fixed"): Case(OWN, query=f"team={VICTIM}"),
    (
        "POST",
        "/api/v1/ipam/fixed",
    ): Case(ADMIN, {"team": VICTIM, "service": SERVICE, "env": "test", "address": "10.77.0.11"}),
    ("DELETE", "/api/v1/ipam/fixed/{address}"): Case(ADMIN),
    ("GET", "/api/v1/ipam/addresses"): Case(ADMIN),
    ("GET", "/api/v1/ipam/history"): Case(OWN, query=f"address={ADDRESS}"),
    ("POST", "/api/v1/ipam/addresses/{segment}/{address}/release"): Case(ADMIN),
    ("GET", "/api/v1/ipam/check"): Case(ADMIN),
    ("GET", "/api/v1/ipam/hosts"): Case(ADMIN),
    # Alarms: rules, receivers and history are the team's; the platform's list is the admin's.
    ("GET", R): Case(HIDDEN),
    ("POST", R): Case(HIDDEN, {"name": "planted", **RULE}),
    ("GET", R + "/{name}"): Case(HIDDEN),
    ("PUT", R + "/{name}"): Case(HIDDEN, RULE),
    ("DELETE", R + "/{name}"): Case(HIDDEN),
    ("GET", T + "/alarm-receivers"): Case(HIDDEN),
    ("POST", T + "/alarm-receivers"): Case(
        HIDDEN, {"name": "planted", "kind": "webhook", "target": "http://127.0.0.1:9/"}
    ),
    ("DELETE", T + "/alarm-receivers/{name}"): Case(HIDDEN),
    ("GET", T + "/alarms"): Case(HIDDEN),
    ("GET", T + "/alarms/{alarm_id}"): Case(HIDDEN),
    ("POST", T + "/alarms/{alarm_id}/ack"): Case(HIDDEN),
    ("POST", T + "/alarms/{alarm_id}/silence"): Case(HIDDEN, {"duration": "1h"}),
    ("DELETE", T + "/alarms/{alarm_id}/silence"): Case(HIDDEN),
    ("GET", "/api/v1/alarms"): Case(ADMIN),
    # Alertmanager's own door: the platform's webhook token only, never a team's.
    ("POST", "/api/v1/alerts/webhook"): Case(UNAUTHORIZED, {"alerts": []}),
    # A team's PromQL reads only its own series (metrics/isolation.py): the victim's never show.
    ("GET", "/api/v1/metrics/query"): Case(OWN, query=f'query=up{{team="{VICTIM}"}}'),
    ("GET", "/api/v1/metrics/query_range"): Case(
        OWN, query=f'query=up{{team="{VICTIM}"}}&start=1700000000&end=1700000600&step=60'
    ),
    ("GET", S + "/charts"): Case(HIDDEN, query="env=test"),
    ("GET", "/api/v1/hosts/charts"): Case(ADMIN),
    # Every service's endpoints and every instance's address: the platform's own processes.
    ("GET", "/api/v1/endpoints"): Case(ADMIN),
}

GIT = f"/git/{VICTIM}/{SERVICE}.git"
GIT_CASES: list[tuple[str, str, bytes]] = [
    ("GET", GIT + "/info/refs?service=git-upload-pack", b""),
    ("GET", GIT + "/info/refs?service=git-receive-pack", b""),
    ("POST", GIT + "/git-upload-pack", b"0000"),
    ("POST", GIT + "/git-receive-pack", b"0000"),
    ("GET", f"/git/{VICTIM}/{SERVICE}/info/refs?service=git-upload-pack", b""),
]
"""Every request git's smart HTTP protocol makes (with and without `.git`)."""


def test_every_operation_has_an_isolation_case() -> None:
    document = build_api(ApiDeps(db=None, clock=None, notify=None)).openapi()  # type: ignore[arg-type]
    operations = {(m.upper(), path) for path, item in document["paths"].items() for m in item}
    assert sorted(operations - set(CASES)) == [], "operations without an isolation case"
    assert sorted(set(CASES) - operations) == [], "cases for operations the API no longer has"


@dataclass
class World:
    target: FuzzTarget
    victim_token: str
    other_token: str
    values: dict[str, str]


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code < 300, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return dict(answer.json()) if answer.content else {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server with team `victim` (a token, a service deployed to test, a build, a hosted
    source, an override, a policy, autoscaling, a fixed address in a segment) and team `bravo`."""
    root = Path(tmp_path_factory.mktemp("iso", numbered=True))
    with fuzz_target(root) as target, target.server.client() as admin:
        victim = _token(admin, VICTIM)
        other = _token(admin, OTHER)
        svc = f"/api/v1/teams/{VICTIM}/services/{SERVICE}"
        with _client(target, victim) as own:
            body = {"name": SERVICE, "image": f"{VICTIM}/{SERVICE}:1"}
            body["ports"] = [{"container_port": 8080}]  # type: ignore[assignment]
            _ok(own.post(f"/api/v1/teams/{VICTIM}/services", json=body))
            _ok(own.post(f"{svc}/envs/test/deploy"))
            _ok(own.put(f"{svc}/source/hosted", json={}))
            _ok(own.post(f"{svc}/builds", json={"ref": "main"}))
            _ok(own.put(f"{svc}/envs/online/overrides", json={"replicas": 2}))
            _ok(own.put(f"{svc}/promotion/policy", json={"soak_s": 60}))
            scaling = {"min": 1, "max": 4, "metric": "cpu", "target_percent": 70}
            _ok(own.put(f"{svc}/autoscaling?env=test", json=scaling))
            drain = {"name": SEGMENT, "kind": "http", "url": "http://127.0.0.1:9/"}
            _ok(own.post(f"/api/v1/teams/{VICTIM}/drains", json=drain))
            _ok(own.post(f"{svc}/alarm-rules", json={"name": SEGMENT, **RULE}))
            receiver = {"name": SEGMENT, "kind": "webhook", "target": "http://127.0.0.1:9/"}
            _ok(own.post(f"/api/v1/teams/{VICTIM}/alarm-receivers", json=receiver))
            tokens = _ok(own.get("/api/v1/tokens"))["items"]
        segment = {"name": SEGMENT, "cidr": "10.77.0.0/24", "environments": ["test"]}
        _ok(admin.post("/api/v1/segments", json=segment))
        fixed = {"team": VICTIM, "service": SERVICE, "env": "test", "address": ADDRESS}
        _ok(admin.post("/api/v1/ipam/fixed", json=fixed))
        values = {
            "team": VICTIM,
            "svc": SERVICE,
            "service": SERVICE,
            "env": "test",
            "alarm_id": "1",
            "n": "1",
            "number": "1",
            "token_id": tokens[0]["id"],
            "name": SEGMENT,
            "segment": SEGMENT,
            "address": ADDRESS,
            "instance": "0123456789",
        }
        yield World(target, victim_token=victim, other_token=other, values=values)


def _token(admin: httpx.Client, team: str) -> str:
    _ok(admin.post("/api/v1/teams", json={"name": team}))
    return str(_ok(admin.post(f"/api/v1/teams/{team}/tokens", json={"name": "ci"}))["token"])


def _client(target: FuzzTarget, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=target.server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _state(world: World) -> dict[str, Any]:
    """What the victim owns, as the admin and the victim read it: everything a change by
    another team would show in (the controller's own status left out: it moves by itself)."""
    svc = f"/api/v1/teams/{VICTIM}/services/{SERVICE}"
    reads = {
        "team": f"/api/v1/teams/{VICTIM}",
        "teams": "/api/v1/teams",
        "tokens": f"/api/v1/tokens?team={VICTIM}",
        "services": f"/api/v1/teams/{VICTIM}/services",
        "drains": f"/api/v1/teams/{VICTIM}/drains",
        "alarm rules": f"{svc}/alarm-rules",
        "alarm receivers": f"/api/v1/teams/{VICTIM}/alarm-receivers",
        "source": f"{svc}/source",
        "overrides": f"{svc}/overrides",
        "fixed": "/api/v1/ipam/fixed",
        "segments": "/api/v1/segments",
        **{f"revisions {env}": f"{svc}/envs/{env}/revisions" for env in ("test", "sandbox")},
    }
    state: dict[str, Any] = {}
    with world.target.server.client() as admin:
        for name, path in reads.items():
            state[name] = admin.get(path).json()
        for segment in state["segments"]["items"]:
            segment.pop("usage", None)
        service = admin.get(svc).json()
        state["service"] = {key: service[key] for key in ("spec", "updated_at", "deleting")}
        state["policy"] = admin.get(f"{svc}/promotion").json()["policy"]
        builds = admin.get(f"{svc}/builds").json()["items"]
        state["builds"] = [(b["number"], b["ref"], b["requested_by"]) for b in builds]
    with _client(world.target, world.victim_token) as own:
        refs = own.get(GIT + "/info/refs?service=git-upload-pack")
        state["git refs"] = (refs.status_code, refs.content)
    return state


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format(**{name: values[name] for name in values if f"{{{name}}}" in template})


@pytest.mark.parametrize(
    ("method", "path"), sorted(CASES), ids=[f"{m} {p}" for m, p in sorted(CASES)]
)
def test_another_teams_token_gets_nothing_and_changes_nothing(
    world: World, method: str, path: str
) -> None:
    case = CASES[(method, path)]
    url = _fill(path, world.values) + (f"?{case.query}" if case.query else "")
    before = _state(world)
    with _client(world.target, world.other_token) as other:
        answer = other.request(method, url, json=case.body)
    expected = {HIDDEN: 404, ADMIN: 403, OWN: 200, UNAUTHORIZED: 401}[case.expect]
    assert answer.status_code == expected, answer.text
    if case.expect == OWN:
        leaked = [marker for marker in MARKERS if marker in answer.text]
        assert leaked == [], f"{method} {url} showed another team's {leaked}: {answer.text}"
    else:
        codes = {404: "not_found", 403: "forbidden", 401: "unauthorized"}
        assert answer.json()["error"] == codes[expected]
    assert _state(world) == before


# Provenance is left out: no instance runs on the target, so its owner finds none either.
# So is the live tail: it answers for as long as one listens (test_api_logs reads it). So is
# one alarm: only Alertmanager's webhook records one (tests/integration/api/test_api_alarms.py).
OWNER_READS = sorted(
    (m, p)
    for (m, p), case in CASES.items()
    if case.expect == HIDDEN
    and m == "GET"
    and not any(part in p for part in ("{instance}", "/follow", "{alarm_id}"))
)


@pytest.mark.parametrize(("method", "path"), OWNER_READS, ids=[p for _, p in OWNER_READS])
def test_the_owners_token_reads_what_another_team_cannot(
    world: World, method: str, path: str
) -> None:
    """The control: each read that answered 404 to the other team finds the thing for its
    owner, so the 404 comes from the team, not from a request that names nothing."""
    query = CASES[(method, path)].query
    with _client(world.target, world.victim_token) as own:
        answer = own.request(method, _fill(path, world.values) + (f"?{query}" if query else ""))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("method", "path", "body"), GIT_CASES, ids=[m + " " + p for m, p, _ in GIT_CASES]
)
def test_another_teams_token_finds_no_git_remote(
    world: World, method: str, path: str, body: bytes
) -> None:
    before = _state(world)
    basic = base64.b64encode(f"git:{world.other_token}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    if method == "POST":
        rpc = path.rsplit("/", 1)[1]
        headers["Content-Type"] = f"application/x-{rpc}-request"
    answer = httpx.request(method, world.target.server.url + path, headers=headers, content=body)
    assert answer.status_code == 404, answer.text
    assert not any(marker.encode() in answer.content for marker in MARKERS[2:])
    assert _state(world) == before
