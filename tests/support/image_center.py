"""The server's image center, composed for tests the way `dockyard server` composes it:
the API with the image center's routes and deps, the builder and the stable follower running
for the app's lifetime, and (optionally) the controllers over a real Docker runtime.

`compose` is the wiring server.py does; tests run it under TestClient or uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from fastapi import FastAPI

from dockyard.api import ApiDeps, build_api
from dockyard.api.imaging import ImageCenter, install_image_center
from dockyard.controller.config import ControllerSettings
from dockyard.controller.manager import Manager
from dockyard.domain.clock import Clock, utcnow
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.domain.status import EnvKey
from dockyard.images.builder import Builder
from dockyard.images.config import (
    BuildSettings,
    ImageSettings,
    RetentionSettings,
    SourceSettings,
)
from dockyard.images.follower import Follower
from dockyard.images.pinning import ImagePinner
from dockyard.images.registry import RegistryClient
from dockyard.portal import PortalDeps, build_portal
from dockyard.portal.image_pages import install_builder_wake
from dockyard.runtimes.docker import DockerRuntime
from dockyard.store import services, teams, tokens
from dockyard.store.db import Database
from dockyard.store.platform import this_platform
from tests.support import serving
from tests.support.registry import RunningRegistry

ADMIN = Principal(token_id="setup", name="admin", team=None)
API = "/api/v1"

DOCKER_HOST = "unix:///var/run/docker.sock"


def image_settings(
    registry: RunningRegistry, work_dir: Path, *, lease_s: float = 30.0
) -> ImageSettings:
    """Settings for a test whose repositories are made beside `work_dir`: its parent is the
    one file:// source root, and hosted repositories live in its `git` directory."""
    return ImageSettings(
        registry=replace(registry.settings, managed=False),
        builds=BuildSettings(work_dir=work_dir, lease_s=lease_s, poll_s=0.2),
        retention=RetentionSettings(keep_revisions=5, min_age_s=0),
        sources=SourceSettings(roots=(work_dir.parent,), hosted_dir=work_dir.parent / "git"),
        follow_s=0.2,
    )


@dataclass
class Parts:
    """What `compose` made, for tests to look at."""

    db: Database
    settings: ImageSettings
    registry: RegistryClient
    builder: Builder
    follower: Follower
    manager: Manager | None
    notified: list[EnvKey] = field(default_factory=list)


def compose(
    db: Database,
    *,
    settings: ImageSettings,
    clock: Clock,
    network: str | None = None,
    controller: ControllerSettings | None = None,
    public_url: str | None = None,
) -> tuple[FastAPI, Parts]:
    """The API app with the image center; with `network`, controllers on the real engine too."""
    notified: list[EnvKey] = []
    manager = None
    if network is not None:
        # Bound to this database's platform: its orphan collector must leave every other
        # Dockyard's containers on the engine alone.
        with db.reading() as connection:
            platform = this_platform(connection)
        runtime = DockerRuntime(network=network, pull_missing=True, platform=platform)
        manager = Manager(db, runtime, clock=clock, settings=controller or ControllerSettings())

    def notify(key: EnvKey) -> None:
        notified.append(key)
        if manager is not None:
            manager.notify(key)

    registry = RegistryClient(settings.registry.url)
    builder = Builder(
        db,
        settings=settings,
        docker_host=DOCKER_HOST,
        clock=clock,
        notify=notify,
        registry=registry,
    )
    follower = Follower(db, clock=clock, notify=notify, interval_s=settings.follow_s)
    app = build_api(ApiDeps(db=db, clock=clock, notify=notify, public_url=public_url))
    install_image_center(
        app,
        ImageCenter(
            registry=registry,
            pinner=ImagePinner(registry, address=settings.registry.address),
            wake_builder=builder.wake,
            retention=settings.retention,
            build_events=builder.events,
            sources=settings.sources,
        ),
    )
    parts = Parts(db, settings, registry, builder, follower, manager, notified)
    app.router.lifespan_context = _lifespan(parts)
    return app, parts


def _lifespan(parts: Parts) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runs = [parts.builder.run(), parts.follower.run()]
        if parts.manager is not None:
            runs.append(parts.manager.run())
        tasks = [asyncio.create_task(run) for run in runs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return lifespan


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette suggests httpx2 for its TestClient
    from fastapi.testclient import TestClient


def seed(db: Database, team: str, image: str) -> dict[str, str]:
    """Team `team` with tokens `ci` and `lead` and service `web` (`image`, port 8080, an HTTP
    health check on /health); the secrets of the admin and of both tokens, by name."""
    secrets: dict[str, str] = {}
    with db.session() as session:
        secrets["admin"] = tokens.ensure_admin_token(session, now=utcnow()) or ""
        teams.create_team(session, ADMIN, name=team, description="", now=utcnow())
        for name in ("ci", "lead"):
            _, secrets[name] = tokens.create_token(
                session, ADMIN, team=team, name=name, expires_at=None, now=utcnow()
            )
        spec = ServiceSpec(
            image=image,
            ports=(Port(container_port=8080),),
            health_check=HealthCheck(http_path="/health", interval_s=1),
        )
        services.create_service(session, ADMIN, team=team, name="web", spec=spec, now=utcnow())
    return secrets


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Center:
    """The API client, headers of the admin and of the team's two members, the app's parts."""

    def __init__(self, client: TestClient, parts: Parts, team: str, secrets: dict[str, str]):
        self.client = client
        self.parts = parts
        self.team = team
        self.ci = bearer(secrets["ci"])
        self.lead = bearer(secrets["lead"])
        self.admin = bearer(secrets["admin"])

    def service(self, name: str = "web") -> str:
        return f"{API}/teams/{self.team}/services/{name}"


@contextlib.contextmanager
def running_center(
    db: Database,
    registry: RunningRegistry,
    *,
    team: str,
    image: str,
    work_dir: Path,
    network: str | None = None,
    controller: ControllerSettings | None = None,
) -> Iterator[Center]:
    """`seed`, then the composed app running under TestClient until the block ends."""
    secrets = seed(db, team, image)
    app, parts = compose(
        db, settings=image_settings(registry, work_dir), clock=utcnow, network=network,
        controller=controller,
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Center(client, parts, team, secrets)


def with_portal(
    app: FastAPI, parts: Parts, *, clock: Clock, public_url: str | None = None
) -> FastAPI:
    """`app` with the portal mounted at /ui the way the server mounts it, builds woken."""
    portal = build_portal(
        PortalDeps(db=parts.db, clock=clock, notify=_notify_of(parts), public_url=public_url)
    )
    install_builder_wake(portal, parts.builder.wake)
    app.mount("/ui", portal)
    return app


def _notify_of(parts: Parts) -> Callable[[EnvKey], None]:
    def notify(key: EnvKey) -> None:
        parts.notified.append(key)
        if parts.manager is not None:
            parts.manager.notify(key)

    return notify


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` (lifespan on: the builder and follower run) on a free loopback port."""
    with serving.serve(app, lifespan="on") as url:
        yield url
