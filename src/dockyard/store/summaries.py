"""Environments of many services, or all of one service's, in a fixed number of queries.

The portal's start page shows every service of a team with each environment's phase and
counts: one query for all of them (`team_summaries`), not one `environments()` per service.
The API's service detail reads one service's stamp with its four environments and their
status in one query and the instances in another (`service_state`); templates, its own and
its releases', are read only when the caller has not kept them (`service_and_releases`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from sqlalchemy import Integer, Row, bindparam, select

from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.domain.principal import Principal
from dockyard.domain.status import EnvPhase
from dockyard.store.db import Reader
from dockyard.store.environments import instance_view
from dockyard.store.models import (
    EnvironmentRow,
    EnvStatusRow,
    InstanceRow,
    ReleaseRow,
    ServiceRow,
    TeamRow,
)
from dockyard.store.releases import release_view
from dockyard.store.services import (
    MAX_PAGE,
    STAMP_COLUMNS,
    check_page,
    service_not_found,
    stamped_service,
)
from dockyard.store.views import (
    EnvStateView,
    EnvStatusView,
    EnvSummaryView,
    InstanceView,
    ReleaseRef,
    ReleaseView,
    ServiceStamp,
    ServiceStateView,
    ServiceSummaryView,
    ServiceView,
)

_Row: TypeAlias = Row[*tuple[Any, ...]]

_ENV_COLUMNS = (
    EnvironmentRow.name.label("env"),
    EnvironmentRow.current_revision,
    EnvStatusRow.phase,
    EnvStatusRow.message,
    EnvStatusRow.revision,
    EnvStatusRow.desired,
    EnvStatusRow.ready,
    EnvStatusRow.updated,
    EnvStatusRow.updated_at,
)
_HAS_STATUS = (EnvStatusRow.service_id == EnvironmentRow.service_id) & (
    EnvStatusRow.env == EnvironmentRow.name
)

_TEAM_PAGE = (
    select(ServiceRow.id, ServiceRow.name)
    .join(TeamRow, ServiceRow.team_id == TeamRow.id)
    .where(TeamRow.name == bindparam("team"), ServiceRow.deleted_at.is_(None))
    .order_by(ServiceRow.name)
    .limit(bindparam("limit", type_=Integer))
    .subquery()
)
_TEAM_SUMMARIES = (
    select(_TEAM_PAGE.c.name.label("service"), *_ENV_COLUMNS)
    .select_from(_TEAM_PAGE)
    .join(EnvironmentRow, EnvironmentRow.service_id == _TEAM_PAGE.c.id)
    .outerjoin(EnvStatusRow, _HAS_STATUS)
    .order_by(_TEAM_PAGE.c.name)
)
_SERVICE_ENVS = (
    select(*STAMP_COLUMNS, *_ENV_COLUMNS)
    .join(TeamRow, ServiceRow.team_id == TeamRow.id)
    .join(EnvironmentRow, EnvironmentRow.service_id == ServiceRow.id)
    .outerjoin(EnvStatusRow, _HAS_STATUS)
    .where(
        TeamRow.name == bindparam("team"),
        ServiceRow.name == bindparam("name"),
        ServiceRow.deleted_at.is_(None),
    )
)
_INSTANCES = (
    select(
        InstanceRow.id,
        InstanceRow.env,
        InstanceRow.revision,
        InstanceRow.state,
        InstanceRow.health,
        InstanceRow.restarts,
        InstanceRow.exit_code,
        InstanceRow.last_log,
        InstanceRow.ip,
        InstanceRow.started_at,
        InstanceRow.ready_at,
        InstanceRow.updated_at,
    )
    .where(InstanceRow.service_id == bindparam("service_id"))
    .order_by(InstanceRow.started_at, InstanceRow.id)
)
_CURRENT_RELEASES = (
    select(
        ReleaseRow.env,
        ReleaseRow.number,
        ReleaseRow.spec,
        ReleaseRow.template_hash,
        ReleaseRow.replicas,
        ReleaseRow.cause,
        ReleaseRow.created_by,
        ReleaseRow.created_at,
    )
    .join(
        EnvironmentRow,
        (EnvironmentRow.service_id == ReleaseRow.service_id)
        & (EnvironmentRow.name == ReleaseRow.env)
        & (EnvironmentRow.current_revision == ReleaseRow.number),
    )
    .where(ReleaseRow.service_id == bindparam("service_id"))
)


def _status(row: _Row) -> EnvStatusView:
    """The status columns of `row` (NULL when the controller never wrote one), as
    `environments.environments` shows them."""
    if row.phase is None:
        deployed = row.current_revision is not None
        phase = EnvPhase.PROGRESSING if deployed else EnvPhase.IDLE
        message = "waiting for the controller" if deployed else "never deployed"
        return EnvStatusView(phase.value, message, None, 0, 0, 0, None)
    return EnvStatusView(
        phase=row.phase,
        message=row.message,
        revision=row.revision,
        desired=row.desired,
        ready=row.ready,
        updated=row.updated,
        updated_at=row.updated_at,
    )


def _current(row: _Row) -> ReleaseRef | None:
    return None if row.current_revision is None else ReleaseRef(row.current_revision)


def _in_order(rows: Iterable[_Row]) -> list[_Row]:
    """Rows of one service's environments in the order test, sandbox, online, stable."""
    by_env = {row.env: row for row in rows}
    return [by_env[env.value] for env in ALL_ENVIRONMENTS if env.value in by_env]


def team_summaries(
    reader: Reader, who: Principal, *, team: str, limit: int = MAX_PAGE
) -> list[ServiceSummaryView]:
    """The first `limit` live services of `team` by name, each with its four environments.

    An unknown team has no services (the caller lists teams it may see).
    """
    check_page(who, team, limit)
    grouped: dict[str, list[_Row]] = {}
    for row in reader.execute(_TEAM_SUMMARIES, {"team": team, "limit": limit}):
        grouped.setdefault(row.service, []).append(row)
    return [
        ServiceSummaryView(
            name=name,
            envs=tuple(
                EnvSummaryView(env=Environment(row.env), current=_current(row), status=_status(row))
                for row in _in_order(rows)
            ),
        )
        for name, rows in grouped.items()
    ]


def service_state(reader: Reader, who: Principal, *, team: str, service: str) -> ServiceStateView:
    """The stamp of the live service `team/service` and its four environments with status,
    current revision number and instances (two queries); NotFound as `get_service` says it."""
    who.require_team(team)
    rows = _in_order(reader.execute(_SERVICE_ENVS, {"team": team, "name": service}))
    if not rows:
        raise service_not_found(team=team, name=service)
    stamp = ServiceStamp(rows[0].id, rows[0].name, rows[0].version, rows[0].created)
    instances: dict[str, list[InstanceView]] = {}
    for row in reader.execute(_INSTANCES, {"service_id": stamp.id}):
        instances.setdefault(row.env, []).append(instance_view(row))
    envs = tuple(
        EnvStateView(
            env=Environment(row.env),
            current=_current(row),
            status=_status(row),
            instances=tuple(instances.get(row.env, ())),
        )
        for row in rows
    )
    return ServiceStateView(stamp=stamp, envs=envs)


def service_and_releases(
    reader: Reader, who: Principal, *, team: str, service: str
) -> tuple[ServiceStamp, ServiceView, dict[Environment, ReleaseView]]:
    """The live service `team/service` (its stamp and view) and the current release of each
    environment that has one (two queries); NotFound as `get_service` says it."""
    stamp, view = stamped_service(reader, who, team=team, name=service)
    releases = {
        Environment(row.env): release_view(row, team=team, service=service)
        for row in reader.execute(_CURRENT_RELEASES, {"service_id": stamp.id})
    }
    return stamp, view, releases
