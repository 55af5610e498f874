"""Bandwidth limits in force, for the host agents that apply them to running instances."""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.api.auth import Who
from dockyard.api.deps import Deps
from dockyard.api.schemas import BandwidthLimitPublic, BandwidthLimits
from dockyard.store import bandwidth
from dockyard.store.platform import this_platform

router = APIRouter(tags=["bandwidth"])


@router.get("/bandwidth")
def list_limits(*, who: Who, deps: Deps) -> BandwidthLimits:
    """Every (service, environment) whose current revision limits bandwidth, with those limits.

    One environment missing from the list is unlimited. Each host agent polls this with the
    admin token and shapes the instances it runs; a team token sees its own team only.
    `platform` tells the agent which containers are this platform's to shape.
    """
    with deps.db.session() as session:
        views = bandwidth.limits_in_force(session, who)
        platform = this_platform(session)
    return BandwidthLimits(
        platform=platform.id,
        adopts_unlabelled=platform.adopts_unlabelled,
        items=[
            BandwidthLimitPublic(
                team=view.team,
                service=view.service,
                env=view.env,
                revision=view.revision,
                egress_mbit=view.bandwidth.egress_mbit,
                ingress_mbit=view.bandwidth.ingress_mbit,
            )
            for view in views
        ],
    )
