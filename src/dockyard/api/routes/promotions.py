"""Promotion: the pipeline test -> sandbox -> online (and stable), its policy, each
environment's own config, approvals, and the promotion itself.

A promotion is one new revision of the target running the source's digest; a gate that fails
answers 409 `promotion_refused` with the gate's name in `field`.
"""

from __future__ import annotations

from fastapi import APIRouter

from dockyard.api.auth import Who
from dockyard.api.bounds import ServicePath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.image_schemas import (
    ApprovalPublic,
    ApprovalRequest,
    OverrideBody,
    OverridePublic,
    PipelinePublic,
    PolicyBody,
    PolicyPublic,
    PromotionRequest,
)
from dockyard.api.schemas import Items, ReleasePublic
from dockyard.domain.environment import ALL_ENVIRONMENTS, Environment
from dockyard.images import promotion
from dockyard.store import promotions
from dockyard.store.releases import Change
from dockyard.store.services import service_row
from dockyard.store.status import key_for

router = APIRouter(tags=["promotion"])

SERVICE = "/teams/{team}/services/{svc}"


@router.get(SERVICE + "/promotion")
def get_pipeline(*, team: TeamPath, svc: ServicePath, who: Who, deps: Deps) -> PipelinePublic:
    """Each environment's digest and phase, and the gates into the next as they stand now."""
    with deps.db.session() as session:
        found = promotion.pipeline(session, who, team=team, service=svc, now=deps.clock())
    return PipelinePublic.of(found)


@router.put(SERVICE + "/promotion/policy")
def set_policy(
    *, team: TeamPath, svc: ServicePath, body: PolicyBody, who: Who, deps: Deps
) -> PolicyPublic:
    """Soak time into sandbox, approval into online, and what stable follows."""
    policy = body.to_policy()
    with deps.db.session() as session:
        promotions.set_policy(session, who, team=team, service=svc, policy=policy, now=deps.clock())
    return PolicyPublic.of(policy)


@router.post(SERVICE + "/promotions", status_code=201)
def promote(
    *, team: TeamPath, svc: ServicePath, body: PromotionRequest, who: Who, deps: Deps
) -> ReleasePublic:
    """Release the digest `from` runs into `to` (gates permitting), with `to`'s own config."""
    change = Change(who=who, now=deps.clock())
    with deps.db.session() as session:
        release = promotion.promote(
            session, change, team=team, service=svc, source=body.from_env, target=body.to
        )
        key = key_for(session, team=team, service=svc, env=body.to)
    deps.changed([key])
    return ReleasePublic.of(release)


@router.post(SERVICE + "/approvals", status_code=201)
def approve(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps, body: ApprovalRequest | None = None
) -> ApprovalPublic:
    """Approve a digest for online (default: what sandbox runs). The requester of the online
    promotion must be someone else."""
    body = body or ApprovalRequest()
    with deps.db.session() as session:
        digest = promotion.approve(
            session, who, team=team, service=svc, digest=body.digest, now=deps.clock()
        )
    return ApprovalPublic(env=Environment.ONLINE, digest=digest, approved_by=who.actor)


@router.get(SERVICE + "/overrides")
def list_overrides(
    *, team: TeamPath, svc: ServicePath, who: Who, deps: Deps
) -> Items[OverridePublic]:
    """Each environment's own config (replicas, extra variables); empty where none is set."""
    with deps.db.session() as session:
        found = promotions.overrides(session, service_row(session, who, team, svc).id)
    return Items[OverridePublic](
        items=[
            OverridePublic.of(env, found.get(env, promotions.Override()))
            for env in ALL_ENVIRONMENTS
        ]
    )


@router.put(SERVICE + "/envs/{env}/overrides")
def set_override(
    *, team: TeamPath, svc: ServicePath, env: Environment, body: OverrideBody, who: Who, deps: Deps
) -> OverridePublic:
    """Replace `env`'s own config; the next image released there takes it."""
    override = body.to_override()
    with deps.db.session() as session:
        promotions.set_override(
            session, who, team=team, service=svc, env=env, override=override, now=deps.clock()
        )
    return OverridePublic.of(env, override)
