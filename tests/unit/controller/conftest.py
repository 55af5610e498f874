"""A controller under test: a real SQLite store, the fake runtime, and a clock tests move."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.controller.reconciler import Reconciler
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec, Strategy
from dockyard.domain.status import EnvKey, EnvPhase, Health
from dockyard.runtimes.fake import FakeRuntime
from dockyard.store import environments, releases, services, status, teams
from dockyard.store.db import Database
from dockyard.store.releases import Change
from dockyard.store.views import EnvironmentView

ADMIN = Principal(token_id="admin", name="admin", team=None)


@dataclass
class ManualClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Harness:
    db: Database
    runtime: FakeRuntime
    clock: ManualClock
    reconciler: Reconciler
    team: str = "pay"
    service: str = "web"
    env: Environment = Environment.TEST

    @property
    def key(self) -> EnvKey:
        with self.db.session() as s:
            key = status.key_for(s, team=self.team, service=self.service, env=self.env)
        assert key is not None
        return key

    def change(self) -> Change:
        return Change(ADMIN, self.clock())

    def deploy(self, image: str = "img/web:1", replicas: int | None = None) -> int:
        with self.db.session() as s:
            return releases.deploy(
                s, self.change(), team=self.team, service=self.service, env=self.env,
                image=image, replicas=replicas,
            ).number  # fmt: skip

    def scale(self, replicas: int) -> None:
        with self.db.session() as s:
            releases.scale(
                s,
                self.change(),
                team=self.team,
                service=self.service,
                env=self.env,
                replicas=replicas,
            )

    def view(self) -> EnvironmentView:
        with self.db.session() as s:
            return environments.environments(
                s, ADMIN, team=self.team, service=self.service, only=self.env
            )[0]

    async def step(self, seconds: float = 1.0) -> float | None:
        again = await self.reconciler.reconcile(self.key)
        self.clock.advance(seconds)
        return again

    async def settle(self, *, limit: int = 30) -> EnvironmentView:
        """Run passes until the environment is available, failed or idle (bounded)."""
        for _ in range(limit):
            await self.step()
            view = self.view()
            if view.status.phase in ("available", "failed", "idle"):
                return view
        return self.view()

    def ready_ids(self) -> set[str]:
        return {i.id for i in self.view().instances if i.health == Health.READY}

    def phase(self) -> EnvPhase:
        return EnvPhase(self.view().status.phase)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    clock = ManualClock()
    runtime = FakeRuntime(clock=clock)
    settings = ControllerSettings(
        progress_deadline_s=60, crash_loop_restarts=3, first_ready_window_s=0
    )
    with db.session() as s:
        teams.create_team(s, ADMIN, name="pay", description="", now=clock())
        spec = ServiceSpec(
            image="img/web:1",
            ports=(Port(8080),),
            health_check=HealthCheck(http_path="/health", interval_s=1, retries=2),
            strategy=Strategy(max_surge=1, max_unavailable=0),
            stop_grace_s=1,
        )
        services.create_service(s, ADMIN, team="pay", name="web", spec=spec, now=clock())
    yield Harness(db, runtime, clock, Reconciler(db, runtime, clock=clock, settings=settings))
    db.close()
