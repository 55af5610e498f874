"""IPAM: fixed addresses (admin), held addresses, history, hosts, check, and release by hand
(admin).

Held addresses, history and host liveness are read from etcd; `check` compares them with the
instances the runtime reports now, through the reader the composition root passed in
(ApiDeps.instances: the API itself never imports a runtime).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from dockyard.api.auth import Who
from dockyard.api.bounds import Name, NameQuery, Short, ShortPath, ShortQuery
from dockyard.api.deps import ApiDeps, Deps
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid, NotFound, RuntimeFailure, Unavailable
from dockyard.domain.instance import Observed
from dockyard.domain.principal import Principal
from dockyard.domain.segment import FixedAddress, parse_address
from dockyard.network.ipam.check import SeenInstance, compare
from dockyard.network.ipam.hosts import HostView, host_views
from dockyard.store import segments

router = APIRouter(prefix="/ipam", tags=["ipam"])


class FixedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    team: Name
    service: Name
    env: Environment = Field(strict=False)
    address: Short


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
    team: NameQuery = None,
    service: NameQuery = None,
    env: Environment | None = None,
) -> dict[str, Any]:
    """Fixed addresses; a team token sees its own team's only."""
    if not who.is_admin:
        team = who.team
    with deps.db.session() as session:
        found = segments.fixed_addresses(session, team=team, service=service, env=env)
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
            env=body.env,
            address=parse_address(body.address),
            now=deps.clock(),
        )
        await _publish(deps, session, segment=item.segment)
    return fixed_json(item)


@router.delete("/fixed/{address}", status_code=204)
async def remove_fixed(address: ShortPath, who: Who, deps: Deps) -> Response:
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
async def list_addresses(who: Who, deps: Deps, segment: ShortQuery = None) -> dict[str, Any]:
    """Addresses held now (admin), with their holders."""
    who.require_admin()
    leases = await deps.require_ipam().book.leases(segment)
    return {"items": [lease.public() for lease in leases]}


@router.get("/history")
async def history(
    who: Who,
    deps: Deps,
    address: ShortQuery = None,
    segment: ShortQuery = None,
    instance: ShortQuery = None,
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
async def release(segment: ShortPath, address: ShortPath, who: Who, deps: Deps) -> dict[str, Any]:
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
    """Leaks and mismatches between etcd and the instances the runtime reports now (admin).

    503 with the reason when etcd or the runtime cannot be read: never an empty answer that
    would read as "all clean"."""
    who.require_admin()
    book = deps.require_ipam().book
    with deps.db.session() as session:
        known = [record.segment for record in segments.list_segments(session)]
    leases = await book.leases()
    seen = [SeenInstance.of(observed) for observed in await _instances(deps)]
    findings = compare(leases, seen, known)
    return {
        "held": len(leases),
        "instances": len(seen),
        "findings": [finding.public() for finding in findings],
    }


async def _instances(deps: ApiDeps) -> list[Observed]:
    if deps.instances is None:
        raise Unavailable(
            "ipam check cannot compare: this server has no runtime to read instances from"
        )
    try:
        return list(await deps.instances())
    except (Unavailable, RuntimeFailure) as exc:
        raise Unavailable(
            f"ipam check cannot read the runtime's instances, so nothing was compared: "
            f"{exc.message}; try again when the runtime answers"
        ) from exc


@router.get("/hosts")
async def hosts(who: Who, deps: Deps) -> dict[str, Any]:
    """Hosts that hold addresses or ever registered (admin): alive or not, since when, how many
    addresses each holds."""
    who.require_admin()
    ipam = deps.require_ipam()
    leases = await ipam.book.leases()
    alive = await ipam.hosts.alive()
    known = await ipam.hosts.known()
    return {"items": [_host_json(view) for view in host_views(leases, alive=alive, known=known)]}


def _host_json(view: HostView) -> dict[str, Any]:
    record = view.record
    absent = record.absent_since if record and not view.alive else None
    return {
        "host": view.host,
        "alive": view.alive,
        "version": record.version if record else None,
        "started": record.started.isoformat() if record else None,
        "registered": record.registered.isoformat() if record else None,
        "absent_since": absent.isoformat() if absent else None,
        "addresses": view.addresses,
    }
