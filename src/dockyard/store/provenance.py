"""Provenance: from one running instance back to the commit it was built from.

instance -> the revision it runs -> that revision's image digest -> the image (commit, author,
message) -> the build that made it (who asked, when, its log) -> every revision, in any
environment, that released the same digest (who deployed or promoted it, when).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.errors import NotFound
from dockyard.domain.image import parse_image
from dockyard.domain.principal import Principal
from dockyard.store.builds import BuildView, get_build
from dockyard.store.images import ImageView, image_by_digest
from dockyard.store.models import InstanceRow, ReleaseRow, ServiceRow, TeamRow


@dataclass(frozen=True)
class Step:
    """One revision that released the digest."""

    env: Environment
    revision: int
    cause: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Provenance:
    team: str
    service: str
    instance: str
    env: Environment
    revision: int
    runtime_id: str
    started_at: datetime | None
    image: str
    digest: str | None
    built: ImageView | None
    build: BuildView | None
    releases: tuple[Step, ...]  # oldest first


def provenance(session: Session, who: Principal, *, team: str, instance: str) -> Provenance:
    """The provenance of instance `instance` of one of `team`'s services; NotFound if none."""
    who.require_team(team)
    found = session.execute(
        select(InstanceRow, ServiceRow.name)
        .join(ServiceRow, ServiceRow.id == InstanceRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(TeamRow.name == team, InstanceRow.id == instance)
    ).first()
    if found is None:
        raise NotFound(
            f"instance {instance!r} not found in team {team!r}; `dockyard instances SVC` lists them"
        )
    row, service = found
    release = session.scalar(
        select(ReleaseRow).where(
            ReleaseRow.service_id == row.service_id,
            ReleaseRow.env == row.env,
            ReleaseRow.number == row.revision,
        )
    )
    image = str(release.spec.get("image", "")) if release else ""
    digest = parse_image(image).digest if image else None
    built = image_by_digest(session, row.service_id, digest) if digest else None
    build = (
        get_build(session, who, team=team, service=service, number=built.build_number)
        if built
        else None
    )
    return Provenance(
        team=team,
        service=service,
        instance=instance,
        env=Environment(row.env),
        revision=row.revision,
        runtime_id=row.runtime_id,
        started_at=row.started_at,
        image=image,
        digest=digest,
        built=built,
        build=build,
        releases=_trail(session, row.service_id, digest) if digest else (),
    )


def _trail(session: Session, service_id: int, digest: str) -> tuple[Step, ...]:
    rows = session.scalars(
        select(ReleaseRow)
        .where(ReleaseRow.service_id == service_id)
        .order_by(ReleaseRow.created_at, ReleaseRow.id)
    )
    return tuple(
        Step(
            env=Environment(row.env),
            revision=row.number,
            cause=row.cause,
            created_by=row.created_by,
            created_at=row.created_at,
        )
        for row in rows
        if str(row.spec.get("image", "")).endswith("@" + digest)
    )
