"""Fixtures for the portal's end-to-end tests: a seeded SQLite database, the portal mounted at
/ui in a parent app under uvicorn on a free loopback port, and Debian's Chromium via Playwright.

The controller is not running: tests write its status with `store.status.write_pass`, exactly
as the controller would, and record `notify` calls instead of acting on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.domain.status import EnvKey, EnvPhase, EnvStatus, Health, InstanceRecord
from dockyard.portal import PortalDeps, build_portal
from dockyard.store import releases, services, status, teams, tokens
from dockyard.store.db import Database
from dockyard.store.releases import Change
from tests.support.serving import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN = Principal(token_id="seed", name="admin", team=None)
START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


class Clock:
    """Real time shifted to START, so ages on the page grow while a test runs."""

    def __init__(self) -> None:
        self._offset = START - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset


@dataclass
class World:
    """What the tests log in with and look at."""

    db: Database
    clock: Clock
    admin_token: str
    payments_token: str
    search_token: str
    notified: list[EnvKey] = field(default_factory=list)

    def key(self, team: str, service: str, env: Environment) -> EnvKey:
        with self.db.session() as session:
            found = status.key_for(session, team=team, service=service, env=env)
        assert found is not None
        return found

    def deploy(
        self, team: str, service: str, env: Environment, *, image: str, replicas: int
    ) -> int:
        with self.db.session() as session:
            release = releases.deploy(
                session, Change(ADMIN, self.clock()), team=team, service=service, env=env,
                image=image, replicas=replicas,
            )  # fmt: skip
        return release.number

    def write_status(
        self,
        team: str,
        service: str,
        env: Environment,
        *,
        phase: EnvPhase,
        message: str,
        revision: int,
        desired: int,
        instances: list[InstanceRecord],
        events: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Write one controller pass: what the controller would store after acting."""
        ready = sum(1 for record in instances if record.health is Health.READY)
        with self.db.session() as session:
            status.write_pass(
                session,
                self.key(team, service, env),
                records=instances,
                status=EnvStatus(
                    phase=phase, message=message, revision=revision,
                    desired=desired, ready=ready, updated=len(instances),
                ),
                events=list(events),
                now=self.clock(),
            )  # fmt: skip

    def revisions(self, team: str, service: str, env: Environment) -> list[tuple[int, str, int]]:
        """(number, cause, replicas), newest first."""
        with self.db.session() as session:
            rows = releases.history(session, ADMIN, team=team, service=service, env=env)
        return [(row.number, row.cause, row.replicas) for row in rows]


def instance(
    iid: str,
    *,
    revision: int,
    health: Health = Health.READY,
    started: datetime = START - timedelta(minutes=12),
    restarts: int = 0,
    exit_code: int | None = None,
    last_log: str = "",
    ip: str | None = None,
) -> InstanceRecord:
    crashed = health is Health.CRASHED
    return InstanceRecord(
        id=iid, revision=revision, template_hash="abc123def456", runtime_id=f"c-{iid}",
        state="exited" if crashed else "running", health=health, restarts=restarts,
        exit_code=exit_code, last_log=last_log, ip=None if crashed else ip,
        started_at=started, ready_at=None if health is not Health.READY else started,
    )  # fmt: skip


def seed(db: Database, clock: Clock) -> World:
    """Two teams; payments/api deployed to test (2 revisions) and online; search/indexer."""
    with db.session() as session:
        admin_token = tokens.ensure_admin_token(session, now=clock())
        for name in ("payments", "search"):
            teams.create_team(session, ADMIN, name=name, description="", now=clock())
        spec = ServiceSpec(image="registry.local:5000/payments/api:1.4.0", ports=(Port(8080),))
        for team, name in (("payments", "api"), ("payments", "ledger"), ("search", "indexer")):
            services.create_service(session, ADMIN, team=team, name=name, spec=spec, now=clock())
        _, payments_token = tokens.create_token(
            session, ADMIN, team="payments", name="ci", expires_at=None, now=clock()
        )
        _, search_token = tokens.create_token(
            session, ADMIN, team="search", name="ci", expires_at=None, now=clock()
        )
    assert admin_token is not None
    world = World(db, clock, admin_token, payments_token, search_token)
    world.deploy(
        "payments",
        "api",
        Environment.TEST,
        image="registry.local:5000/payments/api:1.4.0",
        replicas=2,
    )
    world.deploy(
        "payments",
        "api",
        Environment.TEST,
        image="registry.local:5000/payments/api:1.5.0",
        replicas=3,
    )
    world.deploy(
        "payments",
        "api",
        Environment.ONLINE,
        image="registry.local:5000/payments/api:1.4.0",
        replicas=2,
    )
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = Clock()
    db = Database.open(f"sqlite:///{tmp_path / 'portal.db'}")
    yield seed(db, clock)
    db.close()


def parent_app(world: World, *, cookie_secure: bool = False) -> FastAPI:
    """The portal mounted the way the server mounts it."""
    deps = PortalDeps(
        db=world.db, clock=world.clock, notify=world.notified.append, cookie_secure=cookie_secure
    )
    app = FastAPI()
    app.mount("/ui", build_portal(deps))
    return app


@pytest.fixture
def portal_url(world: World) -> Iterator[str]:
    """Base URL of the portal (`http://127.0.0.1:PORT/ui`)."""
    with serve(parent_app(world)) as url:
        yield f"{url}/ui"


@pytest.fixture
def payments_client(portal_url: str, world: World) -> Iterator[httpx.Client]:
    """An HTTP client of the portal, logged in with the payments team's token."""
    with httpx.Client(base_url=portal_url, follow_redirects=False, timeout=5) as http:
        assert http.post("/login", data={"token": world.payments_token}).status_code == 303
        yield http


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test."""
    context = chromium.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(5000)
    page = context.new_page()
    yield page
    context.close()
