"""The segments page: every network segment with its usage (used / free / reserved), from etcd,
and (for admins) each host's agent: alive or absent since when, and how many addresses it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.errors import Unavailable
from dockyard.domain.segment import Segment
from dockyard.network.ipam import Usage, pool_of, usage
from dockyard.network.ipam.client import Ipam
from dockyard.network.ipam.hosts import HostView, host_views
from dockyard.portal.auth import Viewer, current_viewer, portal_deps
from dockyard.portal.rendering import render
from dockyard.store import segments

router = APIRouter()
ViewerDep = Annotated[Viewer, Depends(current_viewer)]


@dataclass(frozen=True)
class SegmentLine:
    segment: Segment
    fixed: int
    usage: Usage | None
    problem: str | None
    """Why usage is missing (etcd down, no etcd configured)."""


async def load_lines(
    ipam: Ipam | None, records: list[Segment], fixed: dict[str, int]
) -> list[SegmentLine]:
    lines = []
    for segment in records:
        found: Usage | None = None
        problem = None if ipam else "IPAM unavailable: no etcd configured"
        if ipam is not None:
            try:
                leases = await ipam.book.leases(segment.name)
                found = usage(pool_of(segment, ()), {lease.address for lease in leases})
            except Unavailable as exc:
                problem = exc.message
        lines.append(SegmentLine(segment, fixed.get(segment.name, 0), found, problem))
    return lines


@router.get("/segments")
async def segments_page(request: Request, viewer: ViewerDep) -> Response:
    deps = portal_deps(request)
    with deps.db.session() as session:
        records = [record.segment for record in segments.list_segments(session)]
        fixed: dict[str, int] = {}
        for item in segments.fixed_addresses(session):
            fixed[item.segment] = fixed.get(item.segment, 0) + 1
    lines = await load_lines(deps.ipam, records, fixed)
    hosts = await load_hosts(deps.ipam) if viewer.principal.is_admin else []
    return render(request, "segments.html", viewer=viewer, lines=lines, hosts=hosts)


async def load_hosts(ipam: Ipam | None) -> list[HostView]:
    """Hosts as `dockyard ipam hosts` shows them; none while etcd does not answer (the segment
    lines already say so)."""
    if ipam is None:
        return []
    try:
        leases = await ipam.book.leases()
        return host_views(leases, alive=await ipam.hosts.alive(), known=await ipam.hosts.known())
    except Unavailable:
        return []
