"""Releases: numbered revisions of one service in one environment.

Every deploy, scale or rollback appends a revision (full template + replicas) and points the
environment at it. The environment row carries a version: of two concurrent changes to one
environment, the second to commit fails with Conflict instead of silently overwriting.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Invalid, NotFound
from dockyard.domain.image import parse_image
from dockyard.domain.principal import Principal
from dockyard.domain.spec import ServiceSpec, check_replicas
from dockyard.store.autoscaling import pause_by_hand
from dockyard.store.env_defaults import defaults_of
from dockyard.store.models import EnvironmentRow, ReleaseRow, ServiceRow
from dockyard.store.services import service_row
from dockyard.store.views import ReleaseView

DEFAULT_REPLICAS = 1
MAX_HISTORY = 500


@dataclasses.dataclass(frozen=True)
class Change:
    """Who asks for a new revision, and which revision they believe is current (optional)."""

    who: Principal
    now: datetime
    expected_revision: int | None = None
    by_hand: bool = True
    """False for the autoscaler's own changes; a change of replicas by hand pauses it."""


class ReleaseColumns(Protocol):
    """A ReleaseRow, or a result row with (at least) these of its columns."""

    @property
    def env(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def template_hash(self) -> str: ...
    @property
    def replicas(self) -> int: ...
    @property
    def cause(self) -> str: ...
    @property
    def created_by(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def release_view(row: ReleaseColumns, *, team: str, service: str) -> ReleaseView:
    return ReleaseView(
        team=team,
        service=service,
        env=Environment(row.env),
        number=row.number,
        spec=ServiceSpec.from_json(row.spec),
        replicas=row.replicas,
        cause=row.cause,
        created_by=row.created_by,
        created_at=row.created_at,
        template_hash=row.template_hash,
    )


def env_row(session: Session, service: ServiceRow, env: Environment) -> EnvironmentRow:
    row = session.scalar(
        select(EnvironmentRow).where(
            EnvironmentRow.service_id == service.id, EnvironmentRow.name == env.value
        )
    )
    if row is None:  # every service gets all four at creation
        raise NotFound(f"environment {env.value!r} of service {service.name!r} not found")
    return row


def release_row(session: Session, service_id: int, env: Environment, number: int) -> ReleaseRow:
    row = session.scalar(
        select(ReleaseRow).where(
            ReleaseRow.service_id == service_id,
            ReleaseRow.env == env.value,
            ReleaseRow.number == number,
        )
    )
    if row is None:
        raise NotFound(
            f"revision {number} of {env.value!r} not found; `dockyard history` lists revisions",
            field="revision",
        )
    return row


def _current(session: Session, service: ServiceRow, env: EnvironmentRow) -> ReleaseRow | None:
    if env.current_revision is None:
        return None
    return release_row(session, service.id, Environment(env.name), env.current_revision)


def _append(
    session: Session,
    change: Change,
    *,
    service: ServiceRow,
    env: EnvironmentRow,
    spec: ServiceSpec,
    replicas: int,
    cause: str,
) -> ReleaseRow:
    if change.expected_revision is not None and change.expected_revision != env.current_revision:
        raise Conflict(
            f"{env.name} is at revision {env.current_revision}, not {change.expected_revision}: "
            "someone changed it meanwhile; look at `dockyard history` and retry"
        )
    last = session.scalar(
        select(func.max(ReleaseRow.number)).where(
            ReleaseRow.service_id == service.id, ReleaseRow.env == env.name
        )
    )
    row = ReleaseRow(
        service_id=service.id,
        env=env.name,
        number=(last or 0) + 1,
        spec=spec.to_json(),
        template_hash=spec.template_hash,
        replicas=replicas,
        cause=cause,
        created_by=change.who.actor,
        created_at=change.now,
    )
    session.add(row)
    env.current_revision = row.number
    session.flush()  # the environment's version check happens here: a concurrent change fails
    return row


def deploy(
    session: Session,
    change: Change,
    *,
    team: str,
    service: str,
    env: Environment,
    image: str | None = None,
    replicas: int | None = None,
    env_vars: dict[str, str] | None = None,
    cause: str | None = None,
) -> ReleaseView:
    """A new revision from the service's template, with an image, replicas and env overrides.

    Unset, the image and replica count carry over from the current revision (or the template's
    image and one replica for a first deploy). Limits the template leaves unset take `env`'s
    defaults of now (store.env_defaults). `cause` (default "deploy IMAGE") is recorded with
    the revision; promotions say where the image came from.
    """
    svc = service_row(session, change.who, team, service)
    environment = env_row(session, svc, env)
    current = _current(session, svc, environment)
    template = ServiceSpec.from_json(svc.spec)
    if image is not None:
        parse_image(image)
    elif current is not None:
        image = current.spec["image"]
    spec = dataclasses.replace(
        template.with_defaults(defaults_of(session, env)),
        image=image or template.image,
        env=tuple(sorted({**dict(template.env), **(env_vars or {})}.items())),
    )
    count = check_replicas(
        replicas if replicas is not None else (current.replicas if current else DEFAULT_REPLICAS)
    )
    row = _append(
        session,
        change,
        service=svc,
        env=environment,
        spec=spec,
        replicas=count,
        cause=cause or f"deploy {spec.image}",
    )
    if replicas is not None and (current is None or current.replicas != replicas):
        _hand(session, change, row, what=f"deploy with {replicas} replicas")
    return release_view(row, team=team, service=service)


def scale(
    session: Session,
    change: Change,
    *,
    team: str,
    service: str,
    env: Environment,
    replicas: int,
    cause: str | None = None,
) -> ReleaseView:
    """A new revision identical to the current one but for the replica count. By hand, it
    pauses the environment's autoscaler (store.autoscaling)."""
    check_replicas(replicas)
    svc = service_row(session, change.who, team, service)
    environment = env_row(session, svc, env)
    current = _current(session, svc, environment)
    if current is None:
        raise Conflict(f"{service} has never been deployed to {env.value}; deploy it first")
    row = _append(
        session,
        change,
        service=svc,
        env=environment,
        spec=ServiceSpec.from_json(current.spec),
        replicas=replicas,
        cause=cause or f"scale {current.replicas} -> {replicas}",
    )
    # Scaling by hand pins the count, even to the one it has: the autoscaler must not undo it.
    _hand(session, change, row, what=f"scaled to {replicas}")
    return release_view(row, team=team, service=service)


def rollback(
    session: Session,
    change: Change,
    *,
    team: str,
    service: str,
    env: Environment,
    to: int | None = None,
) -> ReleaseView:
    """Re-apply image and config of revision `to` (default: the one before current) as new."""
    svc = service_row(session, change.who, team, service)
    environment = env_row(session, svc, env)
    if environment.current_revision is None:
        raise Conflict(f"{service} has never been deployed to {env.value}; nothing to roll back")
    target = to if to is not None else environment.current_revision - 1
    if target < 1:
        raise Invalid(
            f"{env.value} has only revision {environment.current_revision}: "
            "there is no earlier one to roll back to",
            field="to",
        )
    if target == environment.current_revision:
        raise Invalid(f"revision {target} is already current", field="to")
    old = release_row(session, svc.id, env, target)
    before = _current(session, svc, environment)
    row = _append(
        session,
        change,
        service=svc,
        env=environment,
        spec=ServiceSpec.from_json(old.spec),
        replicas=old.replicas,
        cause=f"rollback to {target}",
    )
    if before is None or old.replicas != before.replicas:
        _hand(session, change, row, what=f"rollback to {target} ({old.replicas} replicas)")
    return release_view(row, team=team, service=service)


def _hand(session: Session, change: Change, row: ReleaseRow, *, what: str) -> None:
    if change.by_hand:
        pause_by_hand(
            session, service_id=row.service_id, env=row.env, actor=change.who.actor, what=what,
            now=change.now,
        )  # fmt: skip


def history(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    env: Environment,
    limit: int = 50,
) -> list[ReleaseView]:
    """Newest first."""
    if not 1 <= limit <= MAX_HISTORY:
        raise Invalid(f"limit must be 1-{MAX_HISTORY}", field="limit")
    svc = service_row(session, who, team, service)
    rows = session.scalars(
        select(ReleaseRow)
        .where(ReleaseRow.service_id == svc.id, ReleaseRow.env == env.value)
        .order_by(ReleaseRow.number.desc())
        .limit(limit)
    )
    return [release_view(row, team=team, service=service) for row in rows]


def get_release(
    session: Session, who: Principal, *, team: str, service: str, env: Environment, number: int
) -> ReleaseView:
    svc = service_row(session, who, team, service)
    return release_view(release_row(session, svc.id, env, number), team=team, service=service)
