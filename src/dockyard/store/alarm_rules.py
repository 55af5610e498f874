"""Alarm rules: a team's rules per service, written through the API by its members or the
admin, and read whole by whoever writes Prometheus's rule file (metrics/rule_publisher.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.alarm import (
    AlarmRuleSpec,
    Builtin,
    Comparison,
    Severity,
    Threshold,
)
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.principal import Principal
from dockyard.store.models import AlarmRuleRow, ServiceRow, TeamRow
from dockyard.store.services import service_row

MAX_PER_SERVICE = 50
"""Each rule is evaluated by Prometheus at every interval: a bound keeps one service from many."""


def spec_json(spec: AlarmRuleSpec) -> dict[str, Any]:
    """What the `spec` column holds (team, service, name and env have columns of their own)."""
    threshold = spec.threshold
    return {
        "threshold": None
        if threshold is None
        else {"metric": str(threshold.metric), "op": str(threshold.op), "value": threshold.value},
        "expr": spec.expr,
        "for_s": spec.for_s,
        "severity": str(spec.severity),
        "summary": spec.summary,
        "labels": dict(spec.labels),
        "receivers": list(spec.receivers),
    }


def _spec(row: AlarmRuleRow, *, team: str, service: str) -> AlarmRuleSpec:
    raw = row.spec
    threshold = raw.get("threshold")
    return AlarmRuleSpec(
        team=team,
        service=service,
        env=Environment(row.env),
        name=row.name,
        threshold=None
        if threshold is None
        else Threshold(
            Builtin(threshold["metric"]), Comparison(threshold["op"]), float(threshold["value"])
        ),
        expr=raw.get("expr"),
        for_s=int(raw["for_s"]),
        severity=Severity(raw["severity"]),
        summary=raw.get("summary", ""),
        labels=tuple(sorted(raw.get("labels", {}).items())),
        receivers=tuple(raw.get("receivers", ())),
    )


def put_rule(
    session: Session, who: Principal, spec: AlarmRuleSpec, *, now: datetime, create: bool
) -> AlarmRuleSpec:
    """Record `spec`: a new rule if `create` (Conflict if the name is taken, or the service
    has MAX_PER_SERVICE rules), else a new or replaced rule of that name."""
    service = service_row(session, who, spec.team, spec.service)
    row = session.scalar(
        select(AlarmRuleRow).where(
            AlarmRuleRow.service_id == service.id, AlarmRuleRow.name == spec.name
        )
    )
    if row is not None and create:
        raise Conflict(
            f"service {spec.service} has an alarm rule {spec.name!r} already: "
            "replace it with PUT or remove it first"
        )
    if row is None:
        count = len(session.scalars(select(AlarmRuleRow.id).where(
            AlarmRuleRow.service_id == service.id
        )).all())  # fmt: skip
        if count >= MAX_PER_SERVICE:
            raise Conflict(f"service {spec.service} has {MAX_PER_SERVICE} rules: remove one")
        row = AlarmRuleRow(service_id=service.id, name=spec.name, created_at=now)
        session.add(row)
    row.env = str(spec.env)
    row.spec = spec_json(spec)
    row.updated_at = now
    session.flush()
    return spec


def list_rules(session: Session, who: Principal, team: str, service: str) -> list[AlarmRuleSpec]:
    row = service_row(session, who, team, service)
    query = select(AlarmRuleRow).where(AlarmRuleRow.service_id == row.id)
    return [
        _spec(r, team=team, service=service)
        for r in session.scalars(query.order_by(AlarmRuleRow.name))
    ]


def get_rule(session: Session, who: Principal, team: str, service: str, name: str) -> AlarmRuleSpec:
    return _spec(_row(session, who, team, service, name), team=team, service=service)


def remove_rule(
    session: Session, who: Principal, team: str, service: str, name: str
) -> AlarmRuleSpec:
    row = _row(session, who, team, service, name)
    spec = _spec(row, team=team, service=service)
    session.delete(row)
    session.flush()
    return spec


def all_rules(session: Session) -> list[AlarmRuleSpec]:
    """Every live service's rules (for the rule file, written for the whole platform)."""
    query = (
        select(AlarmRuleRow, ServiceRow.name, TeamRow.name)
        .join(ServiceRow, ServiceRow.id == AlarmRuleRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(ServiceRow.deleted_at.is_(None))
        .order_by(AlarmRuleRow.id)
    )
    return [_spec(row, team=team, service=service) for row, service, team in session.execute(query)]


def _row(session: Session, who: Principal, team: str, service: str, name: str) -> AlarmRuleRow:
    owner = service_row(session, who, team, service)
    row = session.scalar(
        select(AlarmRuleRow).where(AlarmRuleRow.service_id == owner.id, AlarmRuleRow.name == name)
    )
    if row is None:
        raise NotFound(
            f"service {service} has no alarm rule {name!r}; `dockyard alarms rules list` lists them"
        )
    return row


def rule_receivers(session: Session, team: str, service: str, name: str) -> tuple[str, ...]:
    """The receivers a rule names (for the platform's own delivery); none for a rule that
    does not exist (any more)."""
    raw = session.scalar(
        select(AlarmRuleRow.spec)
        .join(ServiceRow, ServiceRow.id == AlarmRuleRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(TeamRow.name == team, ServiceRow.name == service, AlarmRuleRow.name == name)
    )
    return tuple(raw.get("receivers", ())) if raw else ()
