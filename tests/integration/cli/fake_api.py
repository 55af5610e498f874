"""A small in-memory stand-in for the Dockyard REST API, following docs/api.md.

The real API (dockyard.api.app.build_api) is being written at the same time as the CLI, so the
CLI tests run against this fake through an httpx.MockTransport. It keeps just enough state to
answer like the real one: error bodies `{"error", "message", "field"}`, team scoping by token,
pagination, and a toy controller that makes a rollout progress one ready instance per poll of
the environment (an image whose name contains "broken" fails instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from dockyard.domain.readiness import readiness
from dockyard.domain.spec import ServiceSpec

ADMIN_TOKEN = "dy_admin_secret"
WEB_TOKEN = "dy_web_secret"
NOW = "2025-01-02T03:04:05Z"
ENVS = ("test", "sandbox", "online", "stable")
SERVICE_FIELDS = {
    "image",
    "command",
    "args",
    "ports",
    "env",
    "resources",
    "health_check",
    "stop_grace_s",
    "capabilities",
    "strategy",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass
class Rollout:
    release: dict[str, Any]
    ready: int = 0
    phase: str = "progressing"


@dataclass
class FakeApi:
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    releases: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    rollouts: dict[tuple[str, str, str], Rollout] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tokens[ADMIN_TOKEN] = {"id": "adm1", "name": "admin", "team": None}
        self.tokens[WEB_TOKEN] = {"id": "web1", "name": "ci", "team": "web"}
        self.teams["web"] = {"name": "web", "description": "storefront", "created_at": NOW}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        try:
            status, body = self._route(request)
        except ApiError as exc:
            error = {"error": exc.code, "message": exc.message, "field": exc.field}
            return httpx.Response(exc.status, json=error)
        if body is None:
            return httpx.Response(status)
        return httpx.Response(status, json=body)

    def _route(self, request: httpx.Request) -> tuple[int, Any]:
        path = request.url.path
        if path == "/healthz":
            return 200, {"status": "ok"}
        if path == "/healthz/parts":
            return 200, {"database": "ok", "engine": "ok", "controller": "ok"}
        who = self._who(request)
        body = json.loads(request.content) if request.content else {}
        for method, pattern, handler in ROUTES:
            match = re.fullmatch("/api/v1" + pattern, path)
            if match and method == request.method:
                params: dict[str, Any] = dict(match.groupdict())
                answer: tuple[int, Any] = handler(
                    self, who, body=body, query=request.url.params, **params
                )
                return answer
        raise ApiError(404, "not_found", f"no route {request.method} {path}")

    def _who(self, request: httpx.Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        who = self.tokens.get(header.removeprefix("Bearer "))
        if who is None:
            raise ApiError(401, "unauthorized", "the token is unknown, revoked or expired")
        return who

    # -- helpers -------------------------------------------------------------------------------
    def _team(self, who: dict[str, Any], team: str) -> dict[str, Any]:
        if team not in self.teams or (who["team"] not in (None, team)):
            raise ApiError(404, "not_found", f"team {team!r} not found")
        return self.teams[team]

    def _service(self, who: dict[str, Any], team: str, svc: str) -> dict[str, Any]:
        self._team(who, team)
        if (team, svc) not in self.services:
            raise ApiError(404, "not_found", f"service {team}/{svc} not found", "service")
        return self.services[(team, svc)]

    def environment(self, team: str, svc: str, env: str) -> dict[str, Any]:
        rollout = self.rollouts.get((team, svc, env))
        if rollout is None:
            status = {
                "phase": "idle",
                "message": "",
                "revision": None,
                "desired": 0,
                "ready": 0,
                "updated": 0,
                "updated_at": None,
            }
            return {"env": env, "current": None, "status": status, "instances": []}
        release = rollout.release
        status = {
            "phase": rollout.phase,
            "message": _message(rollout),
            "revision": release["number"],
            "desired": release["replicas"],
            "ready": rollout.ready,
            "updated": rollout.ready,
            "updated_at": NOW,
        }
        instances = [_instance(env, release["number"], i) for i in range(rollout.ready)]
        return {"env": env, "current": release, "status": status, "instances": instances}

    def advance(self, team: str, svc: str, env: str) -> None:
        """The toy controller: one more instance ready per look, or a failure for broken images."""
        rollout = self.rollouts.get((team, svc, env))
        if rollout is None or rollout.phase != "progressing":
            return
        if "broken" in rollout.release["image"]:
            rollout.phase = "failed"
        elif rollout.ready < rollout.release["replicas"]:
            rollout.ready += 1
        if rollout.phase == "progressing" and rollout.ready == rollout.release["replicas"]:
            rollout.phase = "available" if rollout.ready else "idle"

    def release(self, who: dict[str, Any], path: dict[str, str], change: dict[str, Any]) -> Any:
        team, svc, env = path["team"], path["svc"], path["env"]
        service = self._service(who, team, svc)
        if env not in ENVS:
            raise ApiError(422, "invalid", f"unknown environment {env!r}", "env")
        history = self.releases.setdefault((team, svc, env), [])
        expected = change.get("expected_revision")
        newest = history[0]["number"] if history else 0
        if expected is not None and expected != newest:
            raise ApiError(
                409,
                "conflict",
                f"revision {newest} is newest, not {expected}: look at `history` and retry",
            )
        previous = history[0] if history else None
        release = {
            "team": team,
            "service": svc,
            "env": env,
            "number": newest + 1,
            "image": change.get("image") or (previous or service["spec"])["image"],
            "replicas": change.get("replicas", previous["replicas"] if previous else 1),
            "cause": change["cause"],
            "created_by": who["name"],
            "created_at": NOW,
            "template_hash": "abc123",
            "spec": service["spec"],
            "effective_health": effective_health(service["spec"]),
        }
        history.insert(0, release)
        self.rollouts[(team, svc, env)] = Rollout(release)
        return 201, release


def _message(rollout: Rollout) -> str:
    if rollout.phase == "failed":
        return "instance crashed 3 times: exec /app: no such file"
    return f"{rollout.ready} of {rollout.release['replicas']} ready"


def _instance(env: str, revision: int, index: int) -> dict[str, Any]:
    return {
        "id": f"i{index:04d}",
        "env": env,
        "revision": revision,
        "state": "running",
        "health": "ready",
        "restarts": 0,
        "exit_code": None,
        "last_log": "listening\n",
        "ip": f"10.0.0.{index + 2}",
        "started_at": NOW,
        "ready_at": NOW,
        "updated_at": NOW,
    }


# -- route handlers: (api, who, *, body, query, **path parameters) -> (status, body) ----------
def whoami(api: FakeApi, who: dict[str, Any], **_: Any) -> Any:
    return 200, {"name": who["name"], "team": who["team"], "admin": who["team"] is None}


def list_teams(api: FakeApi, who: dict[str, Any], **_: Any) -> Any:
    return 200, {"items": [t for n, t in api.teams.items() if who["team"] in (None, n)]}


def create_team(api: FakeApi, who: dict[str, Any], *, body: dict[str, Any], **_: Any) -> Any:
    _admin(who)
    name = body["name"]
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ApiError(
            422,
            "invalid",
            f"team {name!r} is not a valid name: use lowercase letters, digits and '-'",
            "name",
        )
    if name in api.teams:
        raise ApiError(409, "conflict", f"team {name!r} already exists: pick another name")
    api.teams[name] = {"name": name, "description": body.get("description", ""), "created_at": NOW}
    return 201, api.teams[name]


def delete_team(api: FakeApi, who: dict[str, Any], *, team: str, **_: Any) -> Any:
    _admin(who)
    api._team(who, team)
    if any(t == team for t, _ in api.services):
        raise ApiError(409, "conflict", f"team {team!r} still has services: delete them first")
    del api.teams[team]
    return 204, None


def list_tokens(api: FakeApi, who: dict[str, Any], *, query: Any, **_: Any) -> Any:
    rows = [_token_view(t) for t in api.tokens.values()]
    wanted = query.get("team")
    return 200, {"items": [r for r in rows if wanted in (None, r["team"])]}


def create_token(api: FakeApi, who: dict[str, Any], *, body: Any, team: str, **_: Any) -> Any:
    _admin(who)
    api._team(who, team)
    secret = f"dy_new{len(api.tokens)}_s3cret"
    api.tokens[secret] = {"id": f"new{len(api.tokens)}", "name": body["name"], "team": team}
    return 201, {**_token_view(api.tokens[secret]), "token": secret}


def revoke_token(api: FakeApi, who: dict[str, Any], *, token_id: str, **_: Any) -> Any:
    _admin(who)
    for secret, token in list(api.tokens.items()):
        if token["id"] == token_id:
            del api.tokens[secret]
            return 200, {**_token_view(token), "revoked_at": NOW}
    raise ApiError(404, "not_found", f"token {token_id!r} not found")


def list_services(api: FakeApi, who: dict[str, Any], *, team: str, query: Any, **_: Any) -> Any:
    api._team(who, team)
    names = sorted(s for t, s in api.services if t == team and s > query.get("after", ""))
    limit = int(query.get("limit", 100))
    page = [api.services[(team, n)] for n in names[:limit]]
    return 200, {"items": page, "next": page[-1]["name"] if len(names) > limit else None}


def effective_health(spec: dict[str, Any]) -> dict[str, Any]:
    """What the API derives from the service fields (the domain's own decision)."""
    return readiness(ServiceSpec.from_json(spec)).to_json()


def create_service(api: FakeApi, who: dict[str, Any], *, team: str, body: Any, **_: Any) -> Any:
    api._team(who, team)
    unknown = set(body) - SERVICE_FIELDS - {"name"}
    if unknown:
        raise ApiError(422, "invalid", f"unknown field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    if "image" not in body:
        raise ApiError(422, "invalid", "image is required: give the image to run", "image")
    if (team, body["name"]) in api.services:
        raise ApiError(409, "conflict", f"service {team}/{body['name']} already exists")
    spec = {k: v for k, v in body.items() if k != "name"}
    service = {
        "team": team,
        "name": body["name"],
        "spec": spec,
        "effective_health": effective_health(spec),
        "created_at": NOW,
        "updated_at": NOW,
        "deleting": False,
    }
    api.services[(team, body["name"])] = service
    return 201, service


def get_service(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, **_: Any) -> Any:
    service = api._service(who, team, svc)
    envs = [api.environment(team, svc, e) for e in ENVS if (team, svc, e) in api.rollouts]
    return 200, {**service, "environments": envs}


def patch_service(
    api: FakeApi, who: dict[str, Any], *, team: str, svc: str, body: Any, **_: Any
) -> Any:
    service = api._service(who, team, svc)
    service["spec"] = {**service["spec"], **body}
    service["effective_health"] = effective_health(service["spec"])
    return 200, service


def delete_service(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, **_: Any) -> Any:
    service = api._service(who, team, svc)
    service["deleting"] = True
    return 202, service


def get_env(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, env: str, **_: Any) -> Any:
    api._service(who, team, svc)
    api.advance(team, svc, env)
    return 200, api.environment(team, svc, env)


def deploy(api: FakeApi, who: dict[str, Any], *, body: Any, **path: str) -> Any:
    return api.release(who, path, {**body, "cause": "deploy"})


def scale(api: FakeApi, who: dict[str, Any], *, body: Any, **path: str) -> Any:
    return api.release(who, path, {**body, "cause": "scale"})


def rollback(api: FakeApi, who: dict[str, Any], *, body: Any, **path: str) -> Any:
    history = api.releases.get((path["team"], path["svc"], path["env"]), [])
    target = next((r for r in history if r["number"] == body.get("to", 1)), None)
    if target is None:
        raise ApiError(404, "not_found", f"revision {body.get('to')} not found", "to")
    change = {"image": target["image"], "replicas": target["replicas"], "cause": "rollback"}
    return api.release(who, path, change)


def revisions(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, env: str, **_: Any) -> Any:
    api._service(who, team, svc)
    return 200, {"items": api.releases.get((team, svc, env), [])}


def instances(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, env: str, **_: Any) -> Any:
    api._service(who, team, svc)
    return 200, {"items": api.environment(team, svc, env)["instances"]}


def events(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, query: Any, **_: Any) -> Any:
    api._service(who, team, svc)
    items = [
        {"id": 2, "env": "test", "at": NOW, "kind": "rollout", "message": "available"},
        {"id": 1, "env": "online", "at": NOW, "kind": "deploy", "message": "revision 1"},
    ]
    wanted = query.get("env")
    return 200, {"items": [e for e in items if wanted in (None, e["env"])]}


def _admin(who: dict[str, Any]) -> None:
    if who["team"] is not None:
        raise ApiError(403, "forbidden", "only the platform admin may do this; use the admin token")


def _token_view(token: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": token["id"],
        "name": token["name"],
        "team": token["team"],
        "created_at": NOW,
        "expires_at": None,
        "revoked_at": None,
    }


_SVC = r"/teams/(?P<team>[^/]+)/services/(?P<svc>[^/]+)"
_ENV = _SVC + r"/envs/(?P<env>[^/]+)"
Handler = Callable[..., tuple[int, Any]]


def list_environments(api: FakeApi, who: dict[str, Any], **_: Any) -> tuple[int, Any]:
    defaults = {"cpus": 0.5, "memory_mb": 256, "pids": 512}
    items = [
        {"env": env, "network": "", "defaults": defaults, "updated_by": None, "updated_at": None}
        for env in ENVS
    ]
    return 200, {"items": items}


def list_autoscaling(api: FakeApi, who: dict[str, Any], *, team: str, svc: str, **_: Any) -> Any:
    api._service(who, team, svc)
    return 200, {"items": []}  # the real API's autoscaling is tested against the real app


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/whoami", whoami),
    ("GET", "/environments", list_environments),
    ("GET", "/teams", list_teams),
    ("POST", "/teams", create_team),
    ("DELETE", r"/teams/(?P<team>[^/]+)", delete_team),
    ("GET", "/tokens", list_tokens),
    ("POST", r"/teams/(?P<team>[^/]+)/tokens", create_token),
    ("DELETE", r"/tokens/(?P<token_id>[^/]+)", revoke_token),
    ("GET", r"/teams/(?P<team>[^/]+)/services", list_services),
    ("POST", r"/teams/(?P<team>[^/]+)/services", create_service),
    ("GET", _SVC, get_service),
    ("PATCH", _SVC, patch_service),
    ("DELETE", _SVC, delete_service),
    ("GET", _ENV, get_env),
    ("POST", _ENV + "/deploy", deploy),
    ("POST", _ENV + "/scale", scale),
    ("POST", _ENV + "/rollback", rollback),
    ("GET", _ENV + "/revisions", revisions),
    ("GET", _ENV + "/instances", instances),
    ("GET", _SVC + "/events", events),
    ("GET", _SVC + "/autoscaling/envs", list_autoscaling),
)
