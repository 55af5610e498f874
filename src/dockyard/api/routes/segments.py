"""Network segments: list and read (with usage from etcd), create and delete (admin).

The database holds segments; etcd holds who uses which address, and a copy of each segment's
configuration for agents and CNI plugins. A change is published to etcd inside the database
transaction, before its commit: if etcd does not answer, the request fails (503) and nothing
is changed in either place.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from dockyard.api.auth import Who
from dockyard.api.bounds import LIST_MAX, Short, ShortPath
from dockyard.api.deps import Deps
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Unavailable
from dockyard.domain.segment import Segment
from dockyard.network.ipam import Lease, pool_of, usage
from dockyard.network.ipam.client import Ipam
from dockyard.store import segments

router = APIRouter(tags=["segments"])

# Environments come as JSON strings: lax, so "test" is taken for Environment.TEST.
EnvName = Annotated[Environment, Field(strict=False)]

LISTED_LIVE = 10  # how many live addresses a refused delete names


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Short
    cidr: Short
    gateway: Short | None = None
    vlan: Annotated[int, Field(ge=1, le=4094)] | None = None
    reserved: Annotated[list[Short], Field(max_length=LIST_MAX)] = Field(default_factory=list)
    environments: Annotated[list[EnvName], Field(min_length=1, max_length=4)]


def segment_json(segment: Segment, *, created_at: datetime | None = None) -> dict[str, Any]:
    return {
        "name": segment.name,
        "cidr": str(segment.cidr),
        "gateway": str(segment.gateway),
        "vlan": segment.vlan,
        "reserved": [str(span) for span in segment.reserved],
        "environments": sorted(env.value for env in segment.environments),
        "bridge": segment.bridge,
        "docker_network": segment.docker_network,
        "created_at": None if created_at is None else created_at.isoformat(),
    }


async def usage_json(ipam: Ipam | None, segment: Segment, fixed_count: int) -> dict[str, Any]:
    """used/free/reserved of one segment, or the reason it cannot be read now."""
    if ipam is None:
        return {"error": "IPAM unavailable: no etcd configured"}
    try:
        leases = await ipam.book.leases(segment.name)
    except Unavailable as exc:
        return {"error": exc.message}
    pool = pool_of(segment, ())
    found = usage(pool, {lease.address for lease in leases})
    return {
        "capacity": found.capacity,
        "used": found.used,
        "free": found.free,
        "reserved": found.reserved,
        "fixed": fixed_count,
    }


@router.get("/segments")
async def list_segments(who: Who, deps: Deps) -> dict[str, Any]:
    """Every segment with its usage (usage carries `error` while etcd does not answer)."""
    with deps.db.session() as session:
        records = segments.list_segments(session)
        fixed = segments.fixed_addresses(session)
    items = []
    for record in records:
        count = sum(1 for item in fixed if item.segment == record.segment.name)
        item = segment_json(record.segment, created_at=record.created_at)
        item["usage"] = await usage_json(deps.ipam, record.segment, count)
        items.append(item)
    return {"items": items}


@router.post("/segments", status_code=201)
async def create_segment(body: SegmentCreate, who: Who, deps: Deps) -> dict[str, Any]:
    """A new segment (admin). 409 if it overlaps another; 422 for a bad CIDR, gateway, range."""
    who.require_admin()
    segment = Segment.parse(
        name=body.name,
        cidr=body.cidr,
        gateway=body.gateway,
        environments=body.environments,
        reserved=body.reserved,
        vlan=body.vlan,
    )
    ipam = deps.require_ipam()
    loop = asyncio.get_running_loop()

    def create() -> segments.SegmentRecord:
        # In a worker thread: a concurrent create waits for the segments' lock, which must not
        # stall the event loop this transaction's etcd publish runs on.
        with deps.db.session() as session:
            record = segments.create_segment(session, who, segment=segment, now=deps.clock())
            asyncio.run_coroutine_threadsafe(ipam.directory.publish(segment, []), loop).result()
        return record

    record = await asyncio.to_thread(create)
    return segment_json(record.segment, created_at=record.created_at)


@router.get("/segments/{name}")
async def get_segment(name: ShortPath, who: Who, deps: Deps) -> dict[str, Any]:
    """One segment, its usage, its fixed addresses (a team token: its own team's; the count in
    `usage` is of all) and (admin) the addresses held now."""
    with deps.db.session() as session:
        record = segments.get_segment(session, name)
        fixed = segments.fixed_addresses(session, segment=name)
    answer = segment_json(record.segment, created_at=record.created_at)
    answer["usage"] = await usage_json(deps.ipam, record.segment, len(fixed))
    answer["fixed"] = [
        {"address": str(f.address), "team": f.team, "service": f.service, "env": f.env.value}
        for f in fixed
        if who.is_admin or f.team == who.team
    ]
    if who.is_admin and deps.ipam is not None and "error" not in answer["usage"]:
        answer["addresses"] = [lease.public() for lease in await deps.ipam.book.leases(name)]
    return answer


@router.delete("/segments/{name}", status_code=204)
async def delete_segment(name: ShortPath, who: Who, deps: Deps) -> Response:
    """Remove a segment (admin). 409 while any of its addresses is held or fixed."""
    who.require_admin()
    ipam = deps.require_ipam()
    loop = asyncio.get_running_loop()

    def delete() -> None:
        # In a worker thread, like create: this transaction holds the database's write lock
        # while it waits for etcd, which answers on the event loop.
        with deps.db.session() as session:
            segments.get_segment(session, name)  # 404 before asking etcd
            live = asyncio.run_coroutine_threadsafe(ipam.book.leases(name), loop).result()
            if live:
                raise _live_addresses(name, live)
            segments.delete_segment(session, who, name)
            asyncio.run_coroutine_threadsafe(ipam.directory.withdraw(name), loop).result()

    await asyncio.to_thread(delete)
    return Response(status_code=204)


def _live_addresses(name: str, live: list[Lease]) -> Conflict:
    listed = ", ".join(
        f"{lease.address} ({lease.holder.instance or lease.holder.container or '?'})"
        for lease in live[:LISTED_LIVE]
    )
    more = f" and {len(live) - LISTED_LIVE} more" if len(live) > LISTED_LIVE else ""
    return Conflict(
        f"segment {name} has {len(live)} live addresses: {listed}{more}; scale their services "
        "down or release them (`dockyard ipam release`) first"
    )
