"""The environments' default limits: read by anyone, set by the platform team (admin).

A default reaches a service that leaves the limit unset at its next deploy to that
environment (store.env_defaults states the rule); setting one restarts nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dockyard.api.auth import Who
from dockyard.api.deps import Deps
from dockyard.api.schemas import Items
from dockyard.domain.environment import Environment
from dockyard.domain.spec import MAX_CPUS, MAX_MEMORY_MB, MAX_PIDS, MIN_MEMORY_MB
from dockyard.store import env_defaults
from dockyard.store.env_defaults import EnvDefaultsView

router = APIRouter(tags=["environments"])

Cpus = Annotated[float, Field(ge=0.01, le=MAX_CPUS, allow_inf_nan=False)]
MemoryMb = Annotated[int, Field(ge=MIN_MEMORY_MB, le=MAX_MEMORY_MB)]
Pids = Annotated[int, Field(ge=16, le=MAX_PIDS)]


class DefaultLimits(BaseModel):
    cpus: float = Field(description="CPU cores per instance.")
    memory_mb: int = Field(description="Memory per instance, MiB.")
    pids: int = Field(description="Processes (and threads) per instance.")


class EnvDefaultsPublic(BaseModel):
    env: Environment
    network: str = Field(description="`offline` (test, stable) or `online` (sandbox, online).")
    defaults: DefaultLimits = Field(
        description="What each instance gets for a limit its service does not set itself."
    )
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, view: EnvDefaultsView) -> EnvDefaultsPublic:
        limits = view.defaults
        return cls(
            env=view.env,
            network=view.env.network,
            defaults=DefaultLimits(cpus=limits.cpus, memory_mb=limits.memory_mb, pids=limits.pids),
            updated_by=view.updated_by,
            updated_at=view.updated_at,
        )


class EnvDefaultsUpdate(BaseModel):
    """The limits to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    cpus: Cpus | None = None
    memory_mb: MemoryMb | None = None
    pids: Pids | None = None


@router.get("/environments")
def list_environments(*, who: Who, deps: Deps) -> Items[EnvDefaultsPublic]:
    """The four environments with their default limits, in promotion order."""
    with deps.db.session() as session:
        views = env_defaults.all_defaults(session)
    return Items[EnvDefaultsPublic](items=[EnvDefaultsPublic.of(view) for view in views])


@router.get("/environments/{env}")
def get_environment(*, env: Environment, who: Who, deps: Deps) -> EnvDefaultsPublic:
    with deps.db.session() as session:
        (view,) = (v for v in env_defaults.all_defaults(session) if v.env == env)
    return EnvDefaultsPublic.of(view)


@router.patch("/environments/{env}")
def set_environment_defaults(
    *, env: Environment, body: EnvDefaultsUpdate, who: Who, deps: Deps
) -> EnvDefaultsPublic:
    """Admin only. Services that leave a limit unset get the new default at their next deploy
    to `env`; running instances keep theirs until then."""
    with deps.db.session() as session:
        view = env_defaults.set_defaults(
            session, who, env=env, cpus=body.cpus, memory_mb=body.memory_mb, pids=body.pids,
            now=deps.clock(),
        )  # fmt: skip
    return EnvDefaultsPublic.of(view)
