"""The alarm history of a team, its actions (acknowledge, silence), and the webhook Alertmanager
posts every alert to.

The webhook is called by Alertmanager only, with the platform's webhook token (not a user's):
it records each alert once per fingerprint and start (Alertmanager sends again), then, after
answering, tells the team's receivers of what changed and records how each delivery went.
A silence is made in Alertmanager first and recorded after: if Alertmanager does not answer,
the answer is 503 and nothing is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query
from starlette.concurrency import run_in_threadpool

from dockyard.api.alarm_schemas import AlarmPublic, SilenceCreate, WebhookAnswer, WebhookBody
from dockyard.api.auth import Who
from dockyard.api.bounds import LINE, NameQuery, NumberPath, TeamPath
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.schemas import Items
from dockyard.domain.alarm import AlarmState, Notice
from dockyard.domain.errors import DockyardError, Unauthorized
from dockyard.metrics.alarm_center import AlarmCenter, webhook_token_accepted
from dockyard.store import alarm_receivers, alarm_rules, alarms
from dockyard.store.alarms import Change

log = logging.getLogger("dockyard.alarms")
router = APIRouter(tags=["alarms"])
ALARMS = "/teams/{team}/alarms"


@router.get(ALARMS)
def list_alarms(
    *,
    team: TeamPath,
    who: Who,
    deps: Deps,
    state: Literal["firing", "resolved", "all"] = "all",
    service: NameQuery = None,
    env: NameQuery = None,
    limit: Annotated[int, Query(ge=1, le=alarms.MAX_LISTED)] = 100,
) -> Items[AlarmPublic]:
    """The team's alarms, newest first."""
    wanted = None if state == "all" else AlarmState(state)
    with deps.db.session() as session:
        found = alarms.list_alarms(
            session, who, team, state=wanted, service=service, env=env, limit=limit
        )
    return Items[AlarmPublic](items=[AlarmPublic.of(a) for a in found])


@router.get("/alarms")
def platform_alarms(
    *,
    who: Who,
    deps: Deps,
    state: Literal["firing", "resolved", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=alarms.MAX_LISTED)] = 100,
) -> Items[AlarmPublic]:
    """Every team's alarms and the hosts' own (HostDiskFull ...), newest first: admin only."""
    wanted = None if state == "all" else AlarmState(state)
    with deps.db.session() as session:
        found = alarms.platform_alarms(session, who, state=wanted, limit=limit)
    return Items[AlarmPublic](items=[AlarmPublic.of(a) for a in found])


@router.get(ALARMS + "/{alarm_id}")
def get_alarm(*, team: TeamPath, alarm_id: NumberPath, who: Who, deps: Deps) -> AlarmPublic:
    with deps.db.session() as session:
        return AlarmPublic.of(alarms.get_alarm(session, who, team, alarm_id))


@router.post(ALARMS + "/{alarm_id}/ack")
def acknowledge(*, team: TeamPath, alarm_id: NumberPath, who: Who, deps: Deps) -> AlarmPublic:
    """Record that the caller has seen the alarm (409 if someone already did)."""
    with deps.db.session() as session:
        return AlarmPublic.of(alarms.acknowledge(session, who, team, alarm_id, now=deps.clock()))


@router.post(ALARMS + "/{alarm_id}/silence")
def silence(
    *, team: TeamPath, alarm_id: NumberPath, body: SilenceCreate, who: Who, deps: Deps
) -> AlarmPublic:
    """Silence the alarm's labels in Alertmanager for `duration`; 503 if it does not answer
    (then nothing is recorded)."""
    seconds = body.seconds()
    center = deps.require_alarms()
    with deps.db.session() as session:
        alarm = alarms.get_alarm(session, who, team, alarm_id)
    now = deps.clock()
    until = now + timedelta(seconds=seconds)
    silence_id = center.alertmanager.create_silence(
        alarm.labels, starts_at=now, ends_at=until, created_by=who.actor, comment=body.comment
    )
    try:
        with deps.db.session() as session:
            done = alarms.set_silence(
                session, who, team, alarm_id, silence_id=silence_id, until=until
            )
    except BaseException:
        # Not recorded, so not left in force; the database's error is the one to report.
        with contextlib.suppress(DockyardError):
            center.alertmanager.expire_silence(silence_id)
        raise
    if alarm.silence_id and alarm.silence_id != silence_id:
        center.alertmanager.expire_silence(alarm.silence_id)  # the newer one replaces it
    return AlarmPublic.of(done)


@router.delete(ALARMS + "/{alarm_id}/silence")
def unsilence(*, team: TeamPath, alarm_id: NumberPath, who: Who, deps: Deps) -> AlarmPublic:
    """Expire the alarm's silence now (an alarm without one is returned as it is)."""
    center = deps.require_alarms()
    with deps.db.session() as session:
        alarm = alarms.get_alarm(session, who, team, alarm_id)
    if alarm.silence_id is None:
        return AlarmPublic.of(alarm)
    center.alertmanager.expire_silence(alarm.silence_id)
    with deps.db.session() as session:
        done = alarms.set_silence(session, who, team, alarm_id, silence_id=None, until=None)
    return AlarmPublic.of(done)


@router.post("/alerts/webhook")
async def webhook(
    body: WebhookBody,
    deps: Deps,
    background: BackgroundTasks,
    authorization: Annotated[str | None, Header(max_length=1024, pattern=LINE)] = None,
) -> WebhookAnswer:
    """Alertmanager's notifications (every alert, firing and resolved), with the platform's
    webhook token as `Authorization: Bearer`."""
    center = deps.require_alarms()
    _check_token(center, authorization)
    notices = [alert.notice() for alert in body.alerts]
    changes = await run_in_threadpool(_record, deps, notices)
    team_changes = [c for c in changes if c.alarm.team is not None]
    if team_changes and center.deliver is not None:
        background.add_task(_notify, deps, center, team_changes)
    return WebhookAnswer(recorded=len(changes))


def _check_token(center: AlarmCenter, authorization: str | None) -> None:
    scheme, _, presented = (authorization or "").partition(" ")
    accepted = webhook_token_accepted(center.webhook_token_file, presented.strip())
    if accepted is None:  # no token: nothing can authenticate (not a fault of the server's)
        log.warning("alert webhook refused: no token at %s", center.webhook_token_file)
        raise Unauthorized(
            f"no webhook token at {center.webhook_token_file}: `dockyard up` writes it"
        )
    if scheme.lower() != "bearer" or not accepted:
        raise Unauthorized("the alert webhook takes the platform's webhook token only")


def _record(deps: ApiDeps, notices: list[Notice]) -> list[Change]:
    with deps.db.session() as session:
        return alarms.record(session, notices, now=deps.clock())


async def _notify(deps: ApiDeps, center: AlarmCenter, changes: list[Change]) -> None:
    """Tell each change's receivers (all at once), recording each delivery's outcome."""
    await asyncio.gather(*(_notify_one(deps, center, change) for change in changes))


async def _notify_one(deps: ApiDeps, center: AlarmCenter, change: Change) -> None:
    deliver, alarm = center.deliver, change.alarm
    assert deliver is not None and alarm.team is not None  # checked by the webhook
    receivers = await run_in_threadpool(_receivers_of, deps, change)
    for stored in receivers:
        try:
            outcome = await deliver(stored.spec, alarm, str(change.transition), center.link(alarm))
            ok, error = outcome.ok, outcome.error
        except Exception as exc:  # a receiver's failure must not stop the others'
            log.exception("delivery failed team=%s receiver=%s", alarm.team, stored.spec.name)
            ok, error = False, f"{type(exc).__name__}: {exc}"
        await run_in_threadpool(_record_delivery, deps, stored.id, ok, error)


def _receivers_of(deps: ApiDeps, change: Change) -> list[alarm_receivers.StoredReceiver]:
    """The rule's receivers if it names some, else all of the team's."""
    alarm = change.alarm
    assert alarm.team is not None
    rule = alarm.labels.get("dockyard_rule")
    with deps.db.session() as session:
        names = (
            alarm_rules.rule_receivers(session, alarm.team, alarm.service, rule)
            if rule and alarm.service
            else ()
        )
        return alarm_receivers.team_receivers(session, alarm.team, names)


def _record_delivery(deps: ApiDeps, receiver_id: int, ok: bool, error: str | None) -> None:
    with deps.db.session() as session:
        alarm_receivers.record_delivery(session, receiver_id, ok=ok, error=error, at=deps.clock())
