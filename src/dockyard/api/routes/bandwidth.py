"""Bandwidth limits in force, for the host agents that apply them to running instances."""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.api.auth import Who
from dockyard.api.deps import Deps
from dockyard.api.schemas import BandwidthLimitPublic, Items
from dockyard.store import bandwidth

router = APIRouter(tags=["bandwidth"])


@router.get("/bandwidth")
def list_limits(*, who: Who, deps: Deps) -> Items[BandwidthLimitPublic]:
    """Every (service, environment) whose current revision limits bandwidth, with those limits.

    One environment missing from the list is unlimited. Each host agent polls this with the
    admin token and shapes the instances it runs; a team token sees its own team only.
    """
    with deps.db.session() as session:
        views = bandwidth.limits_in_force(session, who)
    return Items[BandwidthLimitPublic](
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
        ]
    )
