"""Promotion: the digest an environment runs, released into the next one, gates permitting.

Never rebuilt: the target's new revision runs exactly the image reference (name@digest) of the
source's current revision, with the target environment's own config (releasing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, Invalid
from dockyard.domain.principal import Principal
from dockyard.images import gates as gate_rules
from dockyard.images.gates import NEXT, Gate
from dockyard.images.naming import digest_of
from dockyard.images.registry import DIGEST
from dockyard.images.releasing import release_image
from dockyard.store import promotions
from dockyard.store.promotions import EnvFacts, Policy
from dockyard.store.releases import Change
from dockyard.store.services import service_row
from dockyard.store.views import ReleaseView


@dataclass(frozen=True)
class Stage:
    """One environment on the way to online, and the gates into the next one."""

    facts: EnvFacts
    digest: str | None
    next: Environment | None
    gates: tuple[Gate, ...]


@dataclass(frozen=True)
class Pipeline:
    team: str
    service: str
    policy: Policy
    stages: tuple[Stage, ...]  # test, sandbox, online, stable


def _approvers(
    session: Session, service_id: int, target: Environment, image: str | None
) -> list[str]:
    digest = digest_of(image) if image else None
    if digest is None:
        return []
    return promotions.approvers(session, service_id, env=target, digest=digest)


def promote(
    session: Session,
    change: Change,
    *,
    team: str,
    service: str,
    source: Environment,
    target: Environment,
) -> ReleaseView:
    """Release the source's current image into `target`; PromotionRefused (409) naming the
    first gate that failed, with nothing written."""
    svc = service_row(session, change.who, team, service)
    facts = promotions.facts(session, svc.id)[source]
    found = gate_rules.gates(
        source=facts,
        target=target,
        policy=promotions.get_policy(session, svc.id),
        approvers=_approvers(session, svc.id, target, facts.image),
        requester=change.who.actor,
        now=change.now,
    )
    gate_rules.check(found, source=source, target=target)
    assert facts.image is not None  # the digest gate passed
    return release_image(
        session, change, team=team, service=service, env=target, image=facts.image,
        cause=f"promote from {source.value} revision {facts.revision}",
    )  # fmt: skip


def approve(
    session: Session,
    who: Principal,
    *,
    team: str,
    service: str,
    digest: str | None,
    now: datetime,
) -> str:
    """Approve a digest for online (default: what sandbox runs now); returns the digest."""
    svc = service_row(session, who, team, service)
    if digest is None:
        image = promotions.facts(session, svc.id)[Environment.SANDBOX].image
        digest = digest_of(image) if image else None
        if digest is None:
            raise Conflict(
                "sandbox runs no image pinned by digest, so there is nothing to approve; "
                "name one with --digest"
            )
    elif not DIGEST.match(digest):
        raise Invalid(f"{digest!r} is not a digest: use sha256:<64 hex digits>", field="digest")
    promotions.approve(
        session, who, team=team, service=service, env=Environment.ONLINE, digest=digest, now=now
    )
    return digest


def pipeline(
    session: Session, who: Principal, *, team: str, service: str, now: datetime
) -> Pipeline:
    """Every environment's digest and the gates into the next, as `who` would face them."""
    svc = service_row(session, who, team, service)
    policy = promotions.get_policy(session, svc.id)
    facts = promotions.facts(session, svc.id)
    stages = []
    for env in (Environment.TEST, Environment.SANDBOX, Environment.ONLINE, Environment.STABLE):
        here = facts[env]
        target = NEXT.get(env)
        found: tuple[Gate, ...] = ()
        if target is not None:
            found = tuple(
                gate_rules.gates(
                    source=here, target=target, policy=policy,
                    approvers=_approvers(session, svc.id, target, here.image),
                    requester=who.actor, now=now,
                )
            )  # fmt: skip
        digest = digest_of(here.image) if here.image else None
        stages.append(Stage(facts=here, digest=digest, next=target, gates=found))
    return Pipeline(team=team, service=service, policy=policy, stages=tuple(stages))
