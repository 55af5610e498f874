"""IPAM: fixed addresses (admin), held addresses, history, check, and release by hand (admin).

Held addresses and history are read from etcd; `check` compares them with the instances the
controllers last observed in the runtimes (the API itself never asks a runtime).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from dockyard.api.auth import Who
from dockyard.api.deps import ApiDeps, Deps
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, NotFound
from dockyard.domain.principal import Principal
from dockyard.domain.segment import FixedAddress, parse_address
from dockyard.network.ipam.check import SeenInstance, compare
from dockyard.store import segments

router = APIRouter(prefix="/ipam", tags=["ipam"])


class FixedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    team: str
    service: str
    env: str
    address: str


def fixed_json(item: FixedAddress) -> dict[str, Any]:
    return {
        "address": str(item.address),
        "segment": item.segment,
        "team": item.team,
        "service": item.service,
        "env": item.env.value,
    }


@router.get("/fixed")
def list_fixed(
    who: Who,
    deps: Deps,
    team: str | None = None,
    service: str | None = None,
    env: str | None = None,
) -> dict[str, Any]:
    """Fixed addresses; a team token sees its own team's only."""
    if not who.is_admin:
        team = who.team
    with deps.db.session() as session:
        found = segments.fixed_addresses(
            session, team=team, service=service, env=Environment.parse(env) if env else None
        )
    return {"items": [fixed_json(item) for item in found]}


@router.post("/fixed", status_code=201)
async def add_fixed(body: FixedCreate, who: Who, deps: Deps) -> dict[str, Any]:
    """Keep an address for a service in one environment (admin): its instances take it first,
    nobody else ever gets it, and it stays the service's across redeploys and scale to zero."""
    deps.require_ipam()
    with deps.db.session() as session:
        item = segments.add_fixed(
            session,
            who,
            team=body.team,
            service=body.service,
            env=Environment.parse(body.env),
            address=parse_address(body.address),
            now=deps.clock(),
        )
        await _publish(deps, session, segment=item.segment)
    return fixed_json(item)


@router.delete("/fixed/{address}", status_code=204)
async def remove_fixed(address: str, who: Who, deps: Deps) -> Response:
    """Stop keeping an address for its service (admin); an instance holding it keeps it."""
    deps.require_ipam()
    with deps.db.session() as session:
        item = segments.remove_fixed(session, who, address=parse_address(address))
        await _publish(deps, session, segment=item.segment)
    return Response(status_code=204)


async def _publish(deps: ApiDeps, session: Session, *, segment: str) -> None:
    """Mirror one segment's configuration to etcd from inside the open transaction: if etcd
    does not answer, the transaction rolls back and nothing changes anywhere."""
    session.flush()
    record = segments.get_segment(session, segment)
    fixed = segments.fixed_addresses(session, segment=segment)
    await deps.require_ipam().directory.publish(record.segment, fixed)


@router.get("/addresses")
async def list_addresses(who: Who, deps: Deps, segment: str | None = None) -> dict[str, Any]:
    """Addresses held now (admin), with their holders."""
    who.require_admin()
    leases = await deps.require_ipam().book.leases(segment)
    return {"items": [lease.public() for lease in leases]}


@router.get("/history")
async def history(
    who: Who,
    deps: Deps,
    address: str | None = None,
    segment: str | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """Who held an address, or which addresses an instance (or container) held, from when to
    when. A team token sees its own team's holdings only."""
    if (address is None) == (instance is None):
        raise Invalid("give exactly one of address= or instance=", field="address")
    book = deps.require_ipam().book
    if instance is not None:
        records = await book.history(owner=instance)
    else:
        records = await book.history(segment=segment, address=parse_address(address or ""))
    visible = [r for r in records if _may_see(who, r.holder.team)]
    return {"items": [record.public() for record in visible]}


def _may_see(who: Principal, team: str | None) -> bool:
    return who.is_admin or (team is not None and team == who.team)


@router.post("/addresses/{segment}/{address}/release")
async def release(segment: str, address: str, who: Who, deps: Deps) -> dict[str, Any]:
    """Free one held address by hand (admin), recorded in its history as `admin`."""
    who.require_admin()
    book = deps.require_ipam().book
    found = await book.lease(segment, parse_address(address))
    if found is None:
        raise NotFound(f"{address} is not held in segment {segment}; nothing to release")
    if not await book.release(found, reason="admin"):
        raise NotFound(f"{address} in segment {segment} changed holder meanwhile: look again")
    return found.public()


@router.get("/check")
async def check(who: Who, deps: Deps) -> dict[str, Any]:
    """Leaks and mismatches between etcd and the instances the runtimes report (admin)."""
    who.require_admin()
    book = deps.require_ipam().book
    with deps.db.session() as session:
        known = [record.segment for record in segments.list_segments(session)]
        seen = [
            SeenInstance(i, team, service, env, IPv4Address(ip) if ip else None)
            for i, team, service, env, ip in segments.seen_instances(session)
        ]
    leases = await book.leases()
    findings = compare(leases, seen, known)
    return {
        "held": len(leases),
        "instances": len(seen),
        "findings": [finding.public() for finding in findings],
    }
