"""Bad input at the API edge: numbers too large for the database, control characters, duplicate
ports, unreadable bodies, a wrong method. Each is refused with the documented status and JSON,
changes nothing, and the OpenAPI document states the bound that refused it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.api.bounds import MAX_INTEGER
from dockyard.domain.status import EnvKey
from dockyard.store.db import Database

from .api_support import API, TestClient, snapshot

SVC = f"{API}/teams/alpha/services"
WEB = f"{SVC}/web"
TOO_BIG = 999999999999999999999  # past SQLite's and PostgreSQL's BIGINT

# (method, path, JSON body, field the 422 names, words its message must contain)
REFUSED: list[tuple[str, str, Any, str, str]] = [
    ("POST", f"{WEB}/envs/test/rollback", {"to": TOO_BIG}, "to", "less than or equal"),
    ("POST", f"{WEB}/envs/test/rollback", {"to": 0}, "to", "greater than or equal"),
    (
        "POST",
        f"{WEB}/envs/test/scale",
        {"replicas": 1, "expected_revision": TOO_BIG},
        "expected_revision",
        "less than",
    ),
    ("POST", f"{WEB}/envs/test/deploy", {"env": {"A": "x\x00y"}}, "env.A", "NUL"),
    ("POST", f"{WEB}/envs/test/deploy", {"env": {"A\x00": "x"}}, "env", "letters, digits"),
    ("POST", f"{WEB}/envs/test/deploy", {"image": "alpha/web:1\n"}, "image", "control characters"),
    ("POST", SVC, {"name": "x", "image": "alpha/x", "env": {"A": "\x00"}}, "env.A", "NUL"),
    ("POST", SVC, {"name": "x", "image": "alpha/x", "args": ["a\x00b"]}, "args.0", "NUL"),
    ("POST", SVC, {"name": "x", "image": "alpha/x", "command": ["\x00"]}, "command.0", "NUL"),
    ("POST", SVC, {"name": "x\x00", "image": "alpha/x"}, "name", "control characters"),
    (
        "POST",
        SVC,
        {"name": "x", "image": "alpha/x", "stop_grace_s": 1e308},
        "stop_grace_s",
        "less than",
    ),
    (
        "POST",
        SVC,
        {
            "name": "x",
            "image": "alpha/x",
            "ports": [{"container_port": 80}, {"container_port": 80}],
        },
        "ports",
        "listed twice",
    ),
    (
        "PATCH",
        WEB,
        {"ports": [{"container_port": 8080}, {"container_port": 8080}]},
        "ports",
        "listed twice",
    ),
    ("PATCH", WEB, {"env": {"A": "\x00"}}, "env.A", "NUL"),
    ("PUT", f"{WEB}/envs/test/overrides", {"env": {"A": "\x00"}}, "env.A", "NUL"),
    ("PUT", f"{WEB}/envs/test/overrides", {"replicas": TOO_BIG}, "replicas", "less than"),
    ("POST", f"{API}/teams", {"name": "x", "description": "a\x00b"}, "description", "control"),
]


@pytest.fixture
def deployed(client: TestClient, alpha, web) -> None:
    """alpha/web deployed once to test (revision 1)."""
    assert client.post(f"{web}/envs/test/deploy", headers=alpha).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "words"),
    REFUSED,
    ids=[f"{m} {p.removeprefix(SVC) or '/'} {json.dumps(b)[:60]}" for m, p, b, *_ in REFUSED],
)
def test_out_of_bounds_body_is_422_naming_the_field_and_changes_nothing(
    client: TestClient,
    admin,
    alpha,
    deployed,
    db: Database,
    notified: list[EnvKey],
    method: str,
    path: str,
    body: Any,
    field: str,
    words: str,
):
    before, told = snapshot(db), list(notified)
    headers = admin if path == f"{API}/teams" else alpha
    answer = client.request(method, path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert answer.json()["field"] == field
    assert words in answer.json()["message"]
    assert snapshot(db) == before
    assert notified == told


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{WEB}/envs/test/revisions/99999999999999999999", "n"),
        (f"{WEB}/envs/test/revisions/0", "n"),
        (f"{WEB}/builds/99999999999999999999", "number"),
        (f"{SVC}?after=" + "x" * 31, "after"),
        (f"{API}/teams/" + "t" * 31, "team"),
        (f"{API}/tokens?team=%00", "team"),
    ],
)
def test_out_of_bounds_path_or_query_is_422_naming_the_parameter(
    client: TestClient, alpha, deployed, path: str, field: str
):
    answer = client.get(path, headers=alpha)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert answer.json()["field"] == field


def test_largest_revision_number_is_looked_up_not_refused(client: TestClient, alpha, deployed):
    answer = client.get(f"{WEB}/envs/test/revisions/{MAX_INTEGER}", headers=alpha)
    assert answer.status_code == 404
    assert answer.json()["field"] == "revision"


def test_env_value_with_line_breaks_and_tabs_is_kept(client: TestClient, alpha, web):
    value = "-----BEGIN CERT-----\nabc\tdef\n-----END CERT-----"
    answer = client.patch(web, json={"env": {"CERT": value}}, headers=alpha)
    assert answer.status_code == 200, answer.text
    assert client.get(web, headers=alpha).json()["spec"]["env"] == {"CERT": value}


def test_same_port_number_on_tcp_and_udp_is_two_ports(client: TestClient, alpha, web):
    ports = [{"container_port": 53, "protocol": "tcp"}, {"container_port": 53, "protocol": "udp"}]
    answer = client.patch(web, json={"ports": ports}, headers=alpha)
    assert answer.status_code == 200, answer.text
    assert len(client.get(web, headers=alpha).json()["spec"]["ports"]) == 2


@pytest.mark.parametrize(
    ("raw", "words"),
    [(b'{"replicas": \xff}', "UTF-8"), (b"\x80", "UTF-8"), (b'{"replicas": ', "JSON")],
)
def test_unreadable_body_is_the_documented_422(client, alpha, web, db, raw: bytes, words: str):
    before = snapshot(db)
    answer = client.post(
        f"{web}/envs/test/scale",
        content=raw,
        headers={**alpha, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid"
    assert words in answer.json()["message"]
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        (f"{API}/ipam/fixed", {"GET", "POST"}),
        (f"{API}/teams", {"GET", "POST"}),
        (f"{API}/teams/alpha/services/web", {"GET", "PATCH", "DELETE"}),
        (f"{API}/tokens/abc", {"DELETE"}),
    ],
)
def test_wrong_method_lists_every_method_of_the_path(
    client: TestClient, alpha, path: str, methods: set[str]
):
    answer = client.request("OPTIONS", path, headers=alpha)
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == methods
    assert answer.json()["error"] == "method_not_allowed"
    assert all(method in answer.json()["message"] for method in methods)


# ---- the OpenAPI document states every bound ----


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _unbounded(document: dict[str, Any], schema: dict[str, Any], where: str) -> Iterator[str]:
    """Every place under `schema` where an integer, number, string, list or map has no bound."""
    schema = _resolve(document, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            yield from _unbounded(document, option, where)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema or kind in ("boolean", "null"):
        return
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None or high is None or not -MAX_INTEGER <= low <= high <= MAX_INTEGER:
            yield f"{where}: {kind} without a range the database holds ({low}..{high})"
    elif kind == "string":
        if "maxLength" not in schema:
            yield f"{where}: string without maxLength"
        if "pattern" not in schema:
            yield f"{where}: string without a pattern (which control characters are refused)"
    elif kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: list without maxItems"
        yield from _unbounded(document, schema.get("items", {}), f"{where}[]")
    elif kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                yield f"{where}: map without maxProperties"
            yield from _unbounded(document, extra, f"{where}{{}}")
            names = schema.get("propertyNames")
            if names is None:
                yield f"{where}: map without propertyNames"
            else:
                yield from _unbounded(document, names, f"{where}{{key}}")
        for name, sub in schema.get("properties", {}).items():
            yield from _unbounded(document, sub, f"{where}.{name}")


def test_openapi_document_bounds_every_number_and_string_the_api_takes(client: TestClient):
    document = client.get(f"{API}/openapi.json").json()
    problems: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", ()):
                problems += _unbounded(
                    document, parameter["schema"], f"{where} {parameter['name']}"
                )
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                problems += _unbounded(document, body["schema"], f"{where} body")
    assert problems == []


def test_openapi_document_states_the_revision_range(client: TestClient):
    document = client.get(f"{API}/openapi.json").json()
    get = document["paths"][f"{WEB.replace('alpha', '{team}').replace('web', '{svc}')}"]
    assert get  # the service path exists under its template
    path = "/api/v1/teams/{team}/services/{svc}/envs/{env}/revisions/{n}"
    (n,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "n"]
    assert n["schema"]["minimum"] == 1
    assert n["schema"]["maximum"] == MAX_INTEGER
