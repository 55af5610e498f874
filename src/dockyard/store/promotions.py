"""Promotion's stored side: each service's policy, its environments' own config (overrides),
approvals, and the facts the gates judge (what each environment runs and since when it is
available).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.errors import Conflict, Invalid
from dockyard.domain.principal import Principal
from dockyard.domain.spec import MAX_ENV_VARS, ServiceSpec, check_replicas
from dockyard.store.models import (
    ApprovalRow,
    EnvironmentRow,
    EnvOverrideRow,
    EnvStatusRow,
    PromotionPolicyRow,
    ReleaseRow,
    ServiceRow,
    TeamRow,
)
from dockyard.store.services import service_row

DEFAULT_SOAK_S = 300.0
MAX_SOAK_S = 30 * 86400.0


@dataclass(frozen=True)
class Policy:
    soak_s: float = DEFAULT_SOAK_S
    """How long a digest must run available in `test` before `sandbox` takes it."""
    online_approval: bool = False
    """Whether `online` takes a digest only once another team member approved it."""
    stable_follows: Environment | None = None
    """The environment whose digest `stable` runs, kept up to date by the follower."""

    def __post_init__(self) -> None:
        if not 0 <= self.soak_s <= MAX_SOAK_S:
            raise Invalid(f"soak_s must be 0-{MAX_SOAK_S:g} seconds", field="soak_s")
        if self.stable_follows is Environment.STABLE:
            raise Invalid("stable cannot follow itself", field="stable_follows")


@dataclass(frozen=True)
class Override:
    """An environment's own config: its replica count and extra environment variables."""

    replicas: int | None = None
    env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.replicas is not None:
            check_replicas(self.replicas)
        if len(self.env) > MAX_ENV_VARS:
            raise Invalid(f"at most {MAX_ENV_VARS} env vars", field="env")
        # The same names as a template's: reuse the spec's check on a throwaway spec.
        ServiceSpec(image="x", env=self.env)


@dataclass(frozen=True)
class EnvFacts:
    """What one environment runs, as the gates see it."""

    env: Environment
    revision: int | None
    image: str | None
    replicas: int | None
    created_by: str | None
    created_at: datetime | None
    phase: str | None
    status_revision: int | None
    available_since: datetime | None


def get_policy(session: Session, service_id: int) -> Policy:
    row = session.get(PromotionPolicyRow, service_id)
    if row is None:
        return Policy()
    follows = Environment(row.stable_follows) if row.stable_follows else None
    return Policy(soak_s=row.soak_s, online_approval=row.online_approval, stable_follows=follows)


def set_policy(
    session: Session, who: Principal, *, team: str, service: str, policy: Policy, now: datetime
) -> Policy:
    svc = service_row(session, who, team, service)
    row = session.get(PromotionPolicyRow, svc.id) or PromotionPolicyRow(service_id=svc.id)
    row.soak_s, row.online_approval = policy.soak_s, policy.online_approval
    row.stable_follows = policy.stable_follows.value if policy.stable_follows else None
    row.updated_at = now
    session.add(row)
    return policy


def overrides(session: Session, service_id: int) -> dict[Environment, Override]:
    rows = session.scalars(select(EnvOverrideRow).where(EnvOverrideRow.service_id == service_id))
    return {
        Environment(row.env): Override(
            replicas=row.replicas, env=tuple(sorted(row.env_vars.items()))
        )
        for row in rows
    }


def set_override(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    override: Override,
    now: datetime,
) -> Override:
    """Replace `env`'s own config; it applies to the next image released there."""
    svc = service_row(session, who, team, service)
    row = session.get(EnvOverrideRow, (svc.id, env.value)) or EnvOverrideRow(
        service_id=svc.id, env=env.value
    )
    row.replicas, row.env_vars, row.updated_at = override.replicas, dict(override.env), now
    session.add(row)
    return override


def approve(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    digest: str,
    now: datetime,
) -> None:
    """Record `who`'s approval of `digest` for `env` (approving twice is harmless)."""
    svc = service_row(session, who, team, service)
    exists = session.scalar(
        select(ApprovalRow.id).where(
            ApprovalRow.service_id == svc.id,
            ApprovalRow.env == env.value,
            ApprovalRow.digest == digest,
            ApprovalRow.approved_by == who.actor,
        )
    )
    if exists is not None:
        return
    session.add(
        ApprovalRow(
            service_id=svc.id, env=env.value, digest=digest, approved_by=who.actor, approved_at=now
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("the same approval was just recorded by another request") from exc


def approvers(session: Session, service_id: int, *, env: Environment, digest: str) -> list[str]:
    """Who approved `digest` for `env`, oldest first."""
    return list(
        session.scalars(
            select(ApprovalRow.approved_by)
            .where(
                ApprovalRow.service_id == service_id,
                ApprovalRow.env == env.value,
                ApprovalRow.digest == digest,
            )
            .order_by(ApprovalRow.id)
        )
    )


def facts(session: Session, service_id: int) -> dict[Environment, EnvFacts]:
    """What every environment of the service runs, with its controller status."""
    found = session.execute(
        select(EnvironmentRow, ReleaseRow, EnvStatusRow)
        .outerjoin(
            ReleaseRow,
            (ReleaseRow.service_id == EnvironmentRow.service_id)
            & (ReleaseRow.env == EnvironmentRow.name)
            & (ReleaseRow.number == EnvironmentRow.current_revision),
        )
        .outerjoin(
            EnvStatusRow,
            (EnvStatusRow.service_id == EnvironmentRow.service_id)
            & (EnvStatusRow.env == EnvironmentRow.name),
        )
        .where(EnvironmentRow.service_id == service_id)
    ).all()
    result = {env: _nothing(env) for env in ALL_ENVIRONMENTS}
    for environment, release, status in found:
        env = Environment(environment.name)
        result[env] = EnvFacts(
            env=env,
            revision=environment.current_revision,
            image=release.spec.get("image") if release else None,
            replicas=release.replicas if release else None,
            created_by=release.created_by if release else None,
            created_at=release.created_at if release else None,
            phase=status.phase if status else None,
            status_revision=status.revision if status else None,
            available_since=status.available_since if status else None,
        )
    return result


def _nothing(env: Environment) -> EnvFacts:
    return EnvFacts(
        env=env,
        revision=None,
        image=None,
        replicas=None,
        created_by=None,
        created_at=None,
        phase=None,
        status_revision=None,
        available_since=None,
    )


@dataclass(frozen=True)
class Following:
    service_id: int
    team: str
    service: str
    source: Environment


def followings(session: Session) -> list[Following]:
    """Every live service whose `stable` follows another environment."""
    rows = session.execute(
        select(
            PromotionPolicyRow.service_id,
            TeamRow.name,
            ServiceRow.name,
            PromotionPolicyRow.stable_follows,
        )
        .join(ServiceRow, ServiceRow.id == PromotionPolicyRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(PromotionPolicyRow.stable_follows.is_not(None), ServiceRow.deleted_at.is_(None))
        .order_by(PromotionPolicyRow.service_id)
    )
    return [
        Following(service_id=sid, team=team, service=name, source=Environment(str(source)))
        for sid, team, name, source in rows
    ]
