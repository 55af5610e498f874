"""Each environment's default limits: what an instance gets for a limit its service does not
set itself. The platform team sets them; anyone may read them.

The rule: a deploy (or a promotion, which deploys) resolves the template's unset limits with
the environment's defaults of that moment and records the result in the new revision. Scale
and rollback copy a revision's limits as they are. So a changed default reaches every service
that left the limit unset at its next deploy there, and nothing running changes before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import Resources
from dockyard.store.models import EnvironmentDefaultsRow


@dataclass(frozen=True)
class EnvDefaultsView:
    env: Environment
    defaults: Resources
    updated_by: str | None
    """None while the environment has no row (a database made without migrations): the
    domain's defaults then apply."""
    updated_at: datetime | None


def _view(env: Environment, row: EnvironmentDefaultsRow | None) -> EnvDefaultsView:
    if row is None:
        return EnvDefaultsView(env, Resources(), None, None)
    defaults = Resources(cpus=row.cpus, memory_mb=row.memory_mb, pids=row.pids)
    return EnvDefaultsView(env, defaults, row.updated_by, row.updated_at)


def all_defaults(session: Session) -> list[EnvDefaultsView]:
    """The four environments' defaults, in the order test, sandbox, online, stable."""
    rows = {row.env: row for row in session.scalars(select(EnvironmentDefaultsRow))}
    return [_view(env, rows.get(env.value)) for env in ALL_ENVIRONMENTS]


def defaults_of(session: Session, env: Environment) -> Resources:
    """The limits `env` gives a service for what it leaves unset."""
    return _view(env, session.get(EnvironmentDefaultsRow, env.value)).defaults


def set_defaults(
    session: Session,
    who: Principal,
    *,
    env: Environment,
    cpus: float | None = None,
    memory_mb: int | None = None,
    pids: int | None = None,
    now: datetime,
) -> EnvDefaultsView:
    """Change the given limits of `env`'s defaults (admin only); Invalid if out of range.
    Instances change at their service's next deploy there, not now."""
    who.require_admin()
    current = defaults_of(session, env)
    wanted = Resources(
        cpus=current.cpus if cpus is None else cpus,
        memory_mb=current.memory_mb if memory_mb is None else memory_mb,
        pids=current.pids if pids is None else pids,
    )
    row = session.get(EnvironmentDefaultsRow, env.value)
    if row is None:
        row = EnvironmentDefaultsRow(env=env.value)
        session.add(row)
    row.cpus, row.memory_mb, row.pids = wanted.cpus, wanted.memory_mb, wanted.pids
    row.updated_by, row.updated_at = who.actor, now
    session.flush()
    return _view(env, row)
