"""Alarm rules of a service and a team's alarm receivers: listed, added, replaced and removed
by the team's members or the admin.

A rule is judged by promtool before anything is stored (400 with its words); once stored,
this server writes the whole rule file and asks Prometheus to reload it when the text changed,
so an answer with `problem` says that reload failed. An answer without one is not proof that
Prometheus evaluates the rule: a file left unchanged asks for no reload, and one missed earlier
is asked for again by the server's periodic resync (server.py `_keep_alarm_rules_published`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dockyard.api.alarm_schemas import (
    AlarmRuleBody,
    AlarmRuleCreate,
    AlarmRulePublic,
    ReceiverCreate,
    ReceiverPublic,
)
from dockyard.api.auth import Who
from dockyard.api.bounds import ServicePath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.schemas import ErrorBody, Items
from dockyard.domain.alarm import AlarmRuleSpec
from dockyard.domain.errors import Invalid
from dockyard.store import alarm_receivers, alarm_rules

router = APIRouter(tags=["alarms"])
RULES = "/teams/{team}/services/{service}/alarm-rules"


def publish(deps: ApiDeps) -> str | None:
    """Write every rule to Prometheus's rule file and have it reload; why not, or None."""
    center = deps.require_alarms()
    with deps.db.session() as session:
        every = alarm_rules.all_rules(session)
    return center.publisher.publish(every)


def _store(deps: ApiDeps, who: Who, spec: AlarmRuleSpec, *, create: bool) -> AlarmRulePublic:
    center = deps.require_alarms()
    center.publisher.check(spec)
    with deps.db.session() as session:
        known = {r.spec.name for r in alarm_receivers.team_receivers(session, spec.team)}
        missing = sorted(set(spec.receivers) - known)
        if missing:
            raise Invalid(
                f"team {spec.team} has no receiver {', '.join(missing)}: add it first "
                "(`dockyard alarms receivers add`)",
                field="receivers",
            )
        alarm_rules.put_rule(session, who, spec, now=deps.clock(), create=create)
    return AlarmRulePublic.of(spec, center.publisher.confine, problem=publish(deps))


@router.get(RULES)
def list_rules(
    *, team: TeamPath, service: ServicePath, who: Who, deps: Deps
) -> Items[AlarmRulePublic]:
    confine = deps.require_alarms().publisher.confine
    with deps.db.session() as session:
        found = alarm_rules.list_rules(session, who, team, service)
    return Items[AlarmRulePublic](items=[AlarmRulePublic.of(r, confine) for r in found])


_REFUSED_RULE: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "PromQL or a rule promtool refuses, in its words"}
}


@router.post(RULES, status_code=201, responses=_REFUSED_RULE)
def create_rule(
    *, team: TeamPath, service: ServicePath, body: AlarmRuleCreate, who: Who, deps: Deps
) -> AlarmRulePublic:
    """400 with promtool's message for a rule Prometheus would refuse (nothing stored); 409
    if the service has a rule of that name."""
    who.require_team(team)  # before the rule is judged: another team's names are not told apart
    spec = body.to_spec(team=team, service=service, name=body.name)
    return _store(deps, who, spec, create=True)


@router.get(RULES + "/{name}")
def get_rule(
    *, team: TeamPath, service: ServicePath, name: TeamPath, who: Who, deps: Deps
) -> AlarmRulePublic:
    confine = deps.require_alarms().publisher.confine
    with deps.db.session() as session:
        spec = alarm_rules.get_rule(session, who, team, service, name)
    return AlarmRulePublic.of(spec, confine)


@router.put(RULES + "/{name}", responses=_REFUSED_RULE)
def put_rule(
    *, team: TeamPath, service: ServicePath, name: TeamPath, body: AlarmRuleBody, who: Who,
    deps: Deps,
) -> AlarmRulePublic:  # fmt: skip
    """Create or replace the rule of that name."""
    who.require_team(team)
    spec = body.to_spec(team=team, service=service, name=name)
    return _store(deps, who, spec, create=False)


@router.delete(RULES + "/{name}")
def remove_rule(
    *, team: TeamPath, service: ServicePath, name: TeamPath, who: Who, deps: Deps
) -> AlarmRulePublic:
    """The rule as it was; Prometheus stops evaluating it at once (its firing alerts resolve)."""
    center = deps.require_alarms()
    with deps.db.session() as session:
        spec = alarm_rules.remove_rule(session, who, team, service, name)
    return AlarmRulePublic.of(spec, center.publisher.confine, problem=publish(deps))


@router.get("/teams/{team}/alarm-receivers")
def list_receivers(*, team: TeamPath, who: Who, deps: Deps) -> Items[ReceiverPublic]:
    with deps.db.session() as session:
        found = alarm_receivers.list_receivers(session, who, team)
    return Items[ReceiverPublic](items=[ReceiverPublic.of(r) for r in found])


@router.post("/teams/{team}/alarm-receivers", status_code=201)
def add_receiver(*, team: TeamPath, body: ReceiverCreate, who: Who, deps: Deps) -> ReceiverPublic:
    who.require_team(team)
    spec = body.to_spec(team)
    with deps.db.session() as session:
        stored = alarm_receivers.add_receiver(session, who, spec, now=deps.clock())
    return ReceiverPublic.of(stored)


@router.delete("/teams/{team}/alarm-receivers/{name}")
def remove_receiver(*, team: TeamPath, name: TeamPath, who: Who, deps: Deps) -> ReceiverPublic:
    with deps.db.session() as session:
        stored = alarm_receivers.remove_receiver(session, who, team, name)
    return ReceiverPublic.of(stored)
