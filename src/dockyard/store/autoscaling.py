"""Autoscaling policies: one per service and environment, set by the team (API, CLI), paused
by a change of replicas by hand until resumed, and the autoscaler's status beside each.

Decisions and the revisions they make are in store/autoscale_decisions.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.autoscaling import Policy
from dockyard.domain.environment import Environment
from dockyard.domain.errors import NotFound
from dockyard.domain.principal import Principal
from dockyard.store.models import (
    AutoscalingRow,
    EnvironmentRow,
    EventRow,
    ReleaseRow,
    ServiceRow,
    TeamRow,
)
from dockyard.store.services import service_row

EVENT = "autoscaler"


@dataclass(frozen=True)
class AutoscalingView:
    team: str
    service: str
    env: Environment
    policy: Policy
    paused: str | None
    paused_at: datetime | None
    status: str
    status_at: datetime | None
    updated_by: str
    updated_at: datetime

    @property
    def state(self) -> Literal["active", "paused", "holding"]:
        """Paused (by hand or asked), holding (no figures: `status` says why) or active."""
        if self.paused is not None:
            return "paused"
        return "holding" if self.status.startswith("holding") else "active"

    @property
    def summary(self) -> str:
        return _summary(self.policy)


@dataclass(frozen=True)
class Target:
    """What the autoscaler needs of one environment with a policy, read in one query."""

    service_id: int
    team: str
    service: str
    env: Environment
    policy: Policy
    paused: str | None
    revision: int | None
    replicas: int
    cpus: float | None
    """The CPU limit of each instance of the current revision (None: unlimited)."""


def _view(row: AutoscalingRow, *, team: str, service: str) -> AutoscalingView:
    return AutoscalingView(
        team=team, service=service, env=Environment(row.env), policy=Policy.from_json(row.policy),
        paused=row.paused, paused_at=row.paused_at, status=row.status, status_at=row.status_at,
        updated_by=row.updated_by, updated_at=row.updated_at,
    )  # fmt: skip


def _row(session: Session, service_id: int, env: Environment) -> AutoscalingRow | None:
    return session.get(AutoscalingRow, (service_id, env.value))


def _existing(session: Session, svc: ServiceRow, env: Environment) -> AutoscalingRow:
    row = _row(session, svc.id, env)
    if row is None:
        raise NotFound(
            f"{svc.name} has no autoscaling in {env.value}; set one with "
            f"`dockyard autoscale {svc.name} --env {env.value} --min 1 --max 4 --cpu 70`"
        )
    return row


def get_policy(
    session: Session, who: Principal, *, team: str, service: str, env: Environment
) -> AutoscalingView:
    svc = service_row(session, who, team, service)
    return _view(_existing(session, svc, env), team=team, service=service)


def policies_of(
    session: Session, who: Principal, *, team: str, service: str
) -> list[AutoscalingView]:
    """The service's policies, by environment (none: an empty list)."""
    svc = service_row(session, who, team, service)
    rows = session.scalars(
        select(AutoscalingRow)
        .where(AutoscalingRow.service_id == svc.id)
        .order_by(AutoscalingRow.env)
    )
    return [_view(row, team=team, service=service) for row in rows]


def put_policy(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    policy: Policy,
    now: datetime,
) -> AutoscalingView:
    """Set the policy; a paused environment stays paused (resume says so explicitly)."""
    svc = service_row(session, who, team, service)
    row = _row(session, svc.id, env)
    if row is None:
        row = AutoscalingRow(service_id=svc.id, env=env.value, status="waiting for figures")
        session.add(row)
    row.policy = policy.to_json()
    row.updated_by = who.actor
    row.updated_at = now
    _event(session, svc.id, env, now, f"autoscaling set by {who.actor}: {_summary(policy)}")
    session.flush()
    return _view(row, team=team, service=service)


def delete_policy(
    session: Session, who: Principal, *, team: str, service: str, env: Environment, now: datetime
) -> AutoscalingView:
    """Turn autoscaling off: the replica count stays what it is now."""
    svc = service_row(session, who, team, service)
    row = _existing(session, svc, env)
    view = _view(row, team=team, service=service)
    session.delete(row)
    _event(session, svc.id, env, now, f"autoscaling off by {who.actor}")
    return view


def set_paused(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    paused: bool,
    now: datetime,
) -> AutoscalingView:
    """Pause (the replica count stays as it is) or resume."""
    svc = service_row(session, who, team, service)
    row = _existing(session, svc, env)
    if paused and row.paused is None:
        _pause(session, row, f"paused by {who.actor}", now)
    elif not paused and row.paused is not None:
        row.paused, row.paused_at = None, None
        _event(session, svc.id, env, now, f"autoscaler resumed by {who.actor}")
    session.flush()
    return _view(row, team=team, service=service)


def pause_by_hand(
    session: Session, *, service_id: int, env: str, actor: str, what: str, now: datetime
) -> None:
    """A change of replicas by hand pauses the environment's autoscaler (if it has one and
    it acts) until someone resumes it, and says so in the environment's events."""
    row = _row(session, service_id, Environment(env))
    if row is not None and row.paused is None:
        _pause(session, row, f"{what} by {actor}; `dockyard autoscale --resume` resumes", now)


def _pause(session: Session, row: AutoscalingRow, why: str, now: datetime) -> None:
    row.paused, row.paused_at = why, now
    _event(session, row.service_id, Environment(row.env), now, f"autoscaler paused: {why}")


def record_status(
    session: Session, *, service_id: int, env: Environment, status: str, now: datetime
) -> None:
    """The autoscaler's word on the environment (active, holding: why, paused: why); a
    policy deleted meanwhile is left deleted."""
    row = _row(session, service_id, env)
    if row is not None and row.status != status:
        row.status, row.status_at = status, now


def targets(session: Session) -> list[Target]:
    """Every environment of a live service with a policy, with its current replica count and
    CPU limit (the replica count is 0 and the revision None where it was never deployed)."""
    query = (
        select(
            AutoscalingRow,
            TeamRow.name,
            ServiceRow.name,
            ReleaseRow.number,
            ReleaseRow.replicas,
            ReleaseRow.spec,
        )
        .join(ServiceRow, ServiceRow.id == AutoscalingRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .join(
            EnvironmentRow,
            (EnvironmentRow.service_id == AutoscalingRow.service_id)
            & (EnvironmentRow.name == AutoscalingRow.env),
        )
        .outerjoin(
            ReleaseRow,
            (ReleaseRow.service_id == EnvironmentRow.service_id)
            & (ReleaseRow.env == EnvironmentRow.name)
            & (ReleaseRow.number == EnvironmentRow.current_revision),
        )
        .where(ServiceRow.deleted_at.is_(None))
        .order_by(AutoscalingRow.service_id, AutoscalingRow.env)
    )
    found = []
    for row, team, service, number, replicas, spec in session.execute(query):
        cpus = ((spec or {}).get("resources") or {}).get("cpus")
        found.append(
            Target(
                service_id=row.service_id,
                team=team,
                service=service,
                env=Environment(row.env),
                policy=Policy.from_json(row.policy),
                paused=row.paused,
                revision=number,
                replicas=replicas or 0,
                cpus=float(cpus) if cpus else None,
            )
        )
    return found


def _event(session: Session, service_id: int, env: Environment, at: datetime, text: str) -> None:
    session.add(EventRow(service_id=service_id, env=env.value, at=at, kind=EVENT, message=text))


def _summary(policy: Policy) -> str:
    return (
        f"{policy.min_replicas}-{policy.max_replicas} instances, "
        f"{policy.metric.value} {policy.target_percent:g} % of the limit"
    )
