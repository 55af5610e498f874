"""OpenAPI links: which answer names what a later call needs (the team a create made, the
revision a deploy made), written into the OpenAPI document so clients and generated tests can
follow the API from one call to the next.

Each producer below is one operation whose answer identifies something; every operation whose
path names exactly that thing (its `key` parameters, plus any others the producer's answer or an
environment fills) gets a link from it. The table is the only thing to extend: links follow from
the paths themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

_PARAM = re.compile(r"{([^}]+)}")
_SERVICE: Final = "/api/v1/teams/{team}/services/{svc}"


@dataclass(frozen=True)
class Producer:
    method: str
    path: str
    status: str
    gives: dict[str, str]
    """Path parameter -> the JSON pointer into the answer's body that holds its value."""
    key: frozenset[str]
    """The parameters that name what the answer identifies: a consumer's path has them all."""


def _release(path: str) -> Producer:
    return Producer(
        "post",
        path,
        "201",
        {"team": "/team", "svc": "/service", "env": "/env", "n": "/number"},
        frozenset({"team", "svc"}),
    )


PRODUCERS: Final = (
    Producer("post", "/api/v1/teams", "201", {"team": "/name"}, frozenset({"team"})),
    Producer(
        "post",
        "/api/v1/teams/{team}/services",
        "201",
        {"team": "/team", "svc": "/name"},
        frozenset({"team", "svc"}),
    ),
    Producer(
        "post", "/api/v1/teams/{team}/tokens", "201", {"token_id": "/id"}, frozenset({"token_id"})
    ),
    Producer("post", "/api/v1/segments", "201", {"name": "/name"}, frozenset({"name"})),
    Producer(
        "post",
        "/api/v1/teams/{team}/drains",
        "201",
        {"team": "/team", "name": "/name"},
        frozenset({"team", "name"}),
    ),
    Producer("post", "/api/v1/ipam/fixed", "201", {"address": "/address"}, frozenset({"address"})),
    Producer(
        "post",
        _SERVICE + "/builds",
        "202",
        {"team": "/team", "svc": "/service", "number": "/number"},
        frozenset({"team", "svc", "number"}),
    ),
    _release(_SERVICE + "/envs/{env}/deploy"),
    _release(_SERVICE + "/envs/{env}/scale"),
    _release(_SERVICE + "/envs/{env}/rollback"),
    _release(_SERVICE + "/promotions"),
)

# Filled by the client from the path's enum when no answer gives it.
_FREE: Final = frozenset({"env"})


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with each producer's answer linked to the operations that can use it."""
    paths = document["paths"]
    for producer in PRODUCERS:
        operation = paths.get(producer.path, {}).get(producer.method)
        if operation is None:
            continue
        links = operation["responses"].setdefault(producer.status, {}).setdefault("links", {})
        for path, operations in paths.items():
            names = set(_PARAM.findall(path))
            if not producer.key <= names or not names <= set(producer.gives) | _FREE:
                continue
            for method, target in operations.items():
                if (path, method) == (producer.path, producer.method):
                    continue
                links[target["operationId"]] = {
                    "operationId": target["operationId"],
                    "parameters": {
                        name: f"$response.body#{pointer}"
                        for name, pointer in producer.gives.items()
                        if name in names
                    },
                }
    return document
