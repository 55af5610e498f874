"""Where log lines' instances came from: for each instance of a service, the revision it runs,
that revision's image and digest, and the commit the image was built from. The log views show
it beside each line (store/provenance.py has the whole trail of one instance).

An instance whose row is gone (removed after its logs were written) has no origin: its lines
still show, without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.errors import Invalid
from dockyard.domain.image import parse_image
from dockyard.domain.principal import Principal
from dockyard.store.images import image_by_digest
from dockyard.store.models import InstanceRow, ReleaseRow, ServiceRow, TeamRow

MAX_INSTANCES = 1000
"""Instances asked about at once at most: a page of lines names far fewer."""


@dataclass(frozen=True)
class Origin:
    instance: str
    env: str
    revision: int
    image: str
    """The image reference the revision runs (repository@digest)."""
    digest: str | None
    commit: str | None
    """The commit the image was built from; None if Dockyard did not build it."""


def origins(
    session: Session, who: Principal, *, team: str, service: str, instances: Iterable[str]
) -> dict[str, Origin]:
    """The origin of each of `instances` (ids) of `team`'s service `service` that still has
    a row; NotFound if `who` may not see the team. A few small queries whatever the count of
    instances: the instances, their revisions, and one per image."""
    who.require_team(team)
    ids = sorted(set(instances))
    if len(ids) > MAX_INSTANCES:
        raise Invalid(f"{len(ids)} instances at once: ask about at most {MAX_INSTANCES}")
    if not ids:
        return {}
    rows = session.execute(
        select(InstanceRow.id, InstanceRow.service_id, InstanceRow.env, InstanceRow.revision)
        .join(ServiceRow, ServiceRow.id == InstanceRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(TeamRow.name == team, ServiceRow.name == service, InstanceRow.id.in_(ids))
    ).all()
    if not rows:
        return {}
    service_id = rows[0].service_id
    images = _images(session, service_id, {(r.env, r.revision) for r in rows})
    commits: dict[str, str | None] = {}
    out = {}
    for row in rows:
        image = images.get((row.env, row.revision), "")
        digest = parse_image(image).digest if image else None
        if digest is not None and digest not in commits:
            built = image_by_digest(session, service_id, digest)
            commits[digest] = built.commit if built is not None and built.commit else None
        out[row.id] = Origin(
            instance=row.id, env=row.env, revision=row.revision, image=image, digest=digest,
            commit=commits.get(digest) if digest else None,
        )  # fmt: skip
    return out


def _images(
    session: Session, service_id: int, revisions: set[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The image of each (env, revision) of the service."""
    envs = {env for env, _ in revisions}
    numbers = {number for _, number in revisions}
    found = session.execute(
        select(ReleaseRow.env, ReleaseRow.number, ReleaseRow.spec).where(
            ReleaseRow.service_id == service_id,
            ReleaseRow.env.in_(envs),
            ReleaseRow.number.in_(numbers),
        )
    ).all()
    return {
        (env, number): str(spec.get("image", ""))
        for env, number, spec in found
        if (env, number) in revisions
    }
