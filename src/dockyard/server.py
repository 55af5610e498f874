"""The composition root of `dockyard server`: one process serving the API and the portal and
running the controllers, all over one database and one runtime.

The process keeps no state of its own beyond the database: it may be killed at any moment and
started again, and the controllers pick up where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

from dockyard.api.app import build_api
from dockyard.api.deps import ApiDeps
from dockyard.controller.manager import Manager
from dockyard.domain.clock import Clock, utcnow
from dockyard.domain.errors import DockyardError
from dockyard.portal.app import build_portal
from dockyard.portal.deps import PortalDeps
from dockyard.runtimes.base import Runtime
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.settings import ClientCredentials, Settings, write_credentials
from dockyard.store import tokens
from dockyard.store.db import Database

log = logging.getLogger("dockyard.server")


@dataclass(frozen=True)
class Parts:
    """What the server is made of; tests build one with a fake runtime."""

    db: Database
    runtime: Runtime
    manager: Manager
    clock: Clock


def build_parts(settings: Settings) -> Parts:
    db = Database.open(settings.database.url)
    runtime = DockerRuntime(
        base_url=settings.docker.host,
        network=settings.docker.network,
        parallel_starts=settings.docker.parallel_starts,
    )
    manager = Manager(db, runtime, clock=utcnow, settings=settings.controller)
    return Parts(db=db, runtime=runtime, manager=manager, clock=utcnow)


def bootstrap_admin(parts: Parts, settings: Settings) -> None:
    """At first start, create the admin token and hand it to this host's CLI (root-only file)."""
    with parts.db.session() as session:
        secret = tokens.ensure_admin_token(session, now=parts.clock())
    if secret is None:
        return
    path = settings.paths.credentials_file
    write_credentials(path, ClientCredentials(url=settings.listen.local_url, token=secret))
    log.warning("admin token created and written to %s (readable by its owner only)", path)


def build_app(parts: Parts) -> FastAPI:
    """API at /api/v1, portal at /ui, controllers running for the app's lifetime."""
    app = build_api(ApiDeps(db=parts.db, clock=parts.clock, notify=parts.manager.notify))
    app.mount(
        "/ui",
        build_portal(PortalDeps(db=parts.db, clock=parts.clock, notify=parts.manager.notify)),
    )

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/healthz/parts", include_in_schema=False)
    async def parts_health() -> JSONResponse:
        """Each part and whether it answers, for `dockyard status`."""
        report = {"database": "ok", "engine": "ok", "controller": "ok"}
        try:
            await parts.runtime.ping()
        except DockyardError as exc:
            report["engine"] = exc.message
        if not parts.manager.healthy:
            report["controller"] = "not running or cannot read the database"
        ok = all(value == "ok" for value in report.values())
        return JSONResponse(report, status_code=200 if ok else 503)

    app.router.lifespan_context = _lifespan(parts)
    return app


def _lifespan(parts: Parts):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(parts.manager.run(), name="controllers")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            parts.db.close()

    return lifespan


def build_server(settings: Settings) -> FastAPI:
    """The whole server for `settings`: what `dockyard server` runs under uvicorn."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings.paths.state_dir.mkdir(parents=True, exist_ok=True)
    parts = build_parts(settings)
    bootstrap_admin(parts, settings)
    return build_app(parts)
