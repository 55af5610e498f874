"""The autoscaler's decisions: each one a new revision (its reason as the cause), an event, and
a row keeping the very figure it used, for the history the CLI and the portal show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.store import releases
from dockyard.store.autoscaling import EVENT, Target
from dockyard.store.models import AutoscaleDecisionRow, EventRow
from dockyard.store.services import service_row

MAX_DECISIONS = 200


@dataclass(frozen=True)
class DecisionView:
    at: datetime
    revision: int
    metric: str
    figure: float
    """Per cent of the target."""
    target_percent: float
    from_replicas: int
    to_replicas: int
    reason: str


def apply(
    session: Session, target: Target, *, replicas: int, figure: float, reason: str, now: datetime
) -> int:
    """Scale `target`'s environment to `replicas` as a new revision caused by `reason`, unless
    someone changed it since `target` was read (Conflict then: decide again on fresh state).
    Returns the new revision's number."""
    who = Principal(token_id="autoscaler", name="autoscaler", team=target.team)  # noqa: S106
    change = releases.Change(who=who, now=now, expected_revision=target.revision, by_hand=False)
    release = releases.scale(
        session, change, team=target.team, service=target.service, env=target.env,
        replicas=replicas, cause=reason,
    )  # fmt: skip
    event = EventRow(
        service_id=target.service_id, env=target.env.value, at=now, kind=EVENT, message=reason
    )
    session.add(event)
    session.flush()
    session.add(
        AutoscaleDecisionRow(
            service_id=target.service_id,
            env=target.env.value,
            at=now,
            event_id=event.id,
            revision=release.number,
            metric=target.policy.metric.value,
            figure=figure,
            target_percent=target.policy.target_percent,
            from_replicas=target.replicas,
            to_replicas=replicas,
            reason=reason,
        )
    )
    return release.number


def recent(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    limit: int = 20,
) -> list[DecisionView]:
    """The latest decisions, newest first."""
    svc = service_row(session, who, team, service)
    rows = session.scalars(
        select(AutoscaleDecisionRow)
        .where(AutoscaleDecisionRow.service_id == svc.id, AutoscaleDecisionRow.env == env.value)
        .order_by(AutoscaleDecisionRow.id.desc())
        .limit(min(limit, MAX_DECISIONS))
    )
    return [
        DecisionView(
            at=row.at,
            revision=row.revision,
            metric=row.metric,
            figure=row.figure,
            target_percent=row.target_percent,
            from_replicas=row.from_replicas,
            to_replicas=row.to_replicas,
            reason=row.reason,
        )
        for row in rows
    ]
