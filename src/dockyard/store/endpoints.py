"""What discovery reads: a service's publish setting, the ready instances of many keys in one
query, and the ports of the revisions they run.

Only rows the controller marked `ready` are read: the others are never endpoints, and a
watch's poll over many keys must stay one small indexed query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select

from dockyard.domain.environment import Environment
from dockyard.domain.publish import Publish, parse_publish
from dockyard.domain.spec import Port
from dockyard.domain.status import EnvKey, Health, InstanceRecord
from dockyard.store.db import Reader
from dockyard.store.models import InstanceRow, ReleaseRow, ServiceRow, TeamRow


@dataclass(frozen=True)
class Published:
    service_id: int
    team: str
    service: str
    publish: Publish


def published(reader: Reader, *, team: str, service: str) -> Published | None:
    """The live (not deleted) service `team/service` with its publish setting, or None."""
    row = reader.execute(
        select(ServiceRow.id, ServiceRow.spec)
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(TeamRow.name == team, ServiceRow.name == service, ServiceRow.deleted_at.is_(None))
    ).first()
    if row is None:
        return None
    return Published(row.id, team, service, parse_publish(row.spec.get("publish")))


_READY = select(
    InstanceRow.service_id,
    InstanceRow.env,
    InstanceRow.id,
    InstanceRow.revision,
    InstanceRow.state,
    InstanceRow.ip,
    InstanceRow.ready_at,
    InstanceRow.drain_until,
).where(InstanceRow.health == Health.READY.value)


def ready_records(reader: Reader, keys: Collection[EnvKey]) -> dict[EnvKey, list[InstanceRecord]]:
    """The READY instance records of every key in `keys` (each key present, maybe empty), in
    one query. Records carry only what discovery needs (no template, runtime id or logs)."""
    found: dict[EnvKey, list[InstanceRecord]] = {key: [] for key in keys}
    if not keys:
        return found
    service_ids = sorted({key.service_id for key in keys})
    for row in reader.execute(_READY.where(InstanceRow.service_id.in_(service_ids))):
        key = EnvKey(row.service_id, Environment(row.env))
        if key in found:
            found[key].append(_record(row, Health.READY))
    return found


def _record(row: Row[*tuple[Any, ...]], health: Health) -> InstanceRecord:
    """What discovery needs of an instance row (no template, runtime id or logs)."""
    return InstanceRecord(
        id=row.id,
        revision=row.revision,
        template_hash="",
        runtime_id="",
        state=row.state,
        health=health,
        ip=row.ip,
        ready_at=row.ready_at,
        drain_until=row.drain_until,
    )


def revision_ports(
    reader: Reader, key: EnvKey, revisions: Collection[int]
) -> dict[int, tuple[Port, ...]]:
    """The ports of each of `revisions` of `key` (releases are immutable, so callers may keep
    the answer)."""
    if not revisions:
        return {}
    rows = reader.execute(
        select(ReleaseRow.number, ReleaseRow.spec).where(
            ReleaseRow.service_id == key.service_id,
            ReleaseRow.env == key.env.value,
            ReleaseRow.number.in_(sorted(revisions)),
        )
    )
    return {row.number: tuple(Port(**p) for p in row.spec.get("ports") or ()) for row in rows}


def live_services(reader: Reader) -> list[Published]:
    """Every live (not deleted) service with its team and publish setting, by team and name."""
    rows = reader.execute(
        select(ServiceRow.id, ServiceRow.name, ServiceRow.spec, TeamRow.name.label("team"))
        .join(TeamRow, ServiceRow.team_id == TeamRow.id)
        .where(ServiceRow.deleted_at.is_(None))
        .order_by(TeamRow.name, ServiceRow.name)
    )
    return [
        Published(row.id, row.team, row.name, parse_publish(row.spec.get("publish")))
        for row in rows
    ]


_ADDRESSED = select(
    InstanceRow.service_id,
    InstanceRow.env,
    InstanceRow.id,
    InstanceRow.revision,
    InstanceRow.state,
    InstanceRow.health,
    InstanceRow.ip,
    InstanceRow.ready_at,
    InstanceRow.drain_until,
).where(InstanceRow.ip.is_not(None))


def addressed_instances(reader: Reader) -> dict[EnvKey, list[InstanceRecord]]:
    """Every instance that holds an address, whatever its health, by key (one query): the
    ready ones are endpoints, and all of them tell a caller's environment by its address."""
    found: dict[EnvKey, list[InstanceRecord]] = {}
    for row in reader.execute(_ADDRESSED.order_by(InstanceRow.id)):
        key = EnvKey(row.service_id, Environment(row.env))
        found.setdefault(key, []).append(_record(row, Health(row.health)))
    return found


def catalog_stamp(reader: Reader) -> str:
    """Changes whenever what `live_services` or `addressed_instances` would read changes (the
    service row's version moves with every spec change): a cheap first look for pollers."""
    services = reader.execute(
        select(ServiceRow.id, ServiceRow.version, ServiceRow.deleted_at).order_by(ServiceRow.id)
    )
    instances = reader.execute(_ADDRESSED.order_by(InstanceRow.id))
    text = "\n".join([*map(repr, map(tuple, services)), "", *map(repr, map(tuple, instances))])
    return hashlib.sha256(text.encode()).hexdigest()
