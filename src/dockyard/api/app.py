"""Assembles the REST API of docs/api.md from its parts: routes, auth, errors, limits."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import dockyard
from dockyard.api import errors
from dockyard.api.deps import ApiDeps
from dockyard.api.limits import BodyLimit
from dockyard.api.links import add_links
from dockyard.api.rendering import Renderings
from dockyard.api.routes import (
    ERROR_RESPONSES,
    alarm_rules,
    alarms,
    autoscaling,
    bandwidth,
    builds,
    drains,
    endpoints,
    env_defaults,
    environments,
    git_http,
    git_remote,
    health,
    images,
    ipam,
    log_stats,
    logs,
    metrics,
    promotions,
    segments,
    services,
    teams,
    tokens,
)

PREFIX = "/api/v1"

_DESCRIPTION = """\
Dockyard's REST API: teams, tokens, services and their four environments (test, sandbox,
online, stable). Every call but `GET /healthz` needs `Authorization: Bearer <token>`.
Errors are JSON: `{"error": code, "message": "...", "field": name or null}`.
"""


def build_api(deps: ApiDeps) -> FastAPI:
    """A FastAPI app serving the API with `deps`. Holds no state but `deps` itself."""
    app = FastAPI(
        title="Dockyard",
        version=dockyard.__version__,
        description=_DESCRIPTION,
        openapi_url=PREFIX + "/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.deps = deps
    app.state.renderings = Renderings()
    errors.install(app)
    # git pushes stream through a limit of their own (routes.git_http).
    app.add_middleware(BodyLimit, max_bytes=deps.max_body_bytes, exempt=(errors.GIT_PREFIX + "/",))
    app.include_router(health.router)
    app.include_router(git_http.router)
    for module in (
        tokens, teams, services, environments, builds, images, promotions, bandwidth,
        segments, ipam, git_remote, env_defaults, logs, drains, endpoints, autoscaling,
        alarm_rules, alarms, metrics,
    ):  # fmt: skip
        app.include_router(module.router, prefix=PREFIX, responses=ERROR_RESPONSES)
    app.include_router(log_stats.router, prefix=PREFIX, responses=ERROR_RESPONSES)
    _document_links(app)
    return app


def _document_links(app: FastAPI) -> None:
    """The OpenAPI document with links from each answer to the calls that can use it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = add_links(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
