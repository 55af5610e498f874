"""Services' sources and the images built from them.

An image row is written once a build has pushed it, keyed by (service, digest): a forced rebuild
that yields the same bytes finds the same row. Retention marks a row deleted when it removes the
manifest from the registry; the row stays, so provenance still answers for old revisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.source import GitSource
from dockyard.store.models import (
    EnvironmentRow,
    ImageRow,
    ReleaseRow,
    ServiceRow,
    ServiceSourceRow,
    TeamRow,
)
from dockyard.store.services import service_row

MAX_IMAGES = 500


@dataclass(frozen=True)
class SourceView:
    source: GitSource
    updated_at: datetime
    trusted: bool = False
    """Set by the admin: may name a file:// path outside the source roots."""


@dataclass(frozen=True)
class ImageView:
    id: int
    team: str
    service: str
    repository: str
    digest: str
    tag: str
    commit: str
    author: str
    message: str
    committed_at: datetime | None
    size_bytes: int
    build_number: int
    duration_s: float
    created_at: datetime
    deleted_at: datetime | None

    @property
    def reference(self) -> str:
        """What a release pins: `repository@digest`."""
        return f"{self.repository}@{self.digest}"


@dataclass(frozen=True)
class NewImage:
    """What a finished build knows about the image it pushed."""

    repository: str
    digest: str
    tag: str
    commit: str
    author: str
    message: str
    committed_at: datetime | None
    size_bytes: int
    build_number: int
    duration_s: float


def set_source(
    session: Session, who: Principal, *, team: str, service: str, source: GitSource, now: datetime
) -> SourceView:
    """Point the service at `source` (replacing any earlier one); trusted if the admin set it."""
    svc = service_row(session, who, team, service)
    row = session.get(ServiceSourceRow, svc.id) or ServiceSourceRow(service_id=svc.id)
    row.repo_url, row.branch = source.repo_url, source.branch
    row.dockerfile, row.context = source.dockerfile, source.context
    row.updated_at = now
    row.trusted = who.is_admin
    session.add(row)
    return SourceView(source=source, updated_at=now, trusted=who.is_admin)


def get_source(session: Session, who: Principal, *, team: str, service: str) -> SourceView | None:
    svc = service_row(session, who, team, service)
    return source_of(session, svc.id)


def source_of(session: Session, service_id: int) -> SourceView | None:
    row = session.get(ServiceSourceRow, service_id)
    if row is None:
        return None
    source = GitSource(
        repo_url=row.repo_url, branch=row.branch, dockerfile=row.dockerfile, context=row.context
    )
    return SourceView(source=source, updated_at=row.updated_at, trusted=row.trusted)


def image_view(row: ImageRow, *, team: str, service: str) -> ImageView:
    return ImageView(
        id=row.id,
        team=team,
        service=service,
        repository=row.repository,
        digest=row.digest,
        tag=row.tag,
        commit=row.commit,
        author=row.author,
        message=row.message,
        committed_at=row.committed_at,
        size_bytes=row.size_bytes,
        build_number=row.build_number,
        duration_s=row.duration_s,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


def _names(session: Session, service_id: int) -> tuple[str, str]:
    found = session.execute(
        select(TeamRow.name, ServiceRow.name)
        .join(ServiceRow, ServiceRow.team_id == TeamRow.id)
        .where(ServiceRow.id == service_id)
    ).one()
    return str(found[0]), str(found[1])


def record_image(session: Session, *, service_id: int, image: NewImage, now: datetime) -> ImageView:
    """The row for the pushed image: created, or found (same digest) and marked present again."""
    row = session.scalar(
        select(ImageRow).where(ImageRow.service_id == service_id, ImageRow.digest == image.digest)
    )
    if row is None:
        # A rebuild that yields the same digest keeps the first build's number and duration.
        row = ImageRow(
            service_id=service_id,
            digest=image.digest,
            build_number=image.build_number,
            duration_s=image.duration_s,
            created_at=now,
        )
        session.add(row)
    row.repository, row.tag, row.commit = image.repository, image.tag, image.commit
    row.author, row.message, row.committed_at = image.author, image.message, image.committed_at
    row.size_bytes = image.size_bytes
    row.deleted_at = None
    session.flush()
    team, service = _names(session, service_id)
    return image_view(row, team=team, service=service)


def image_for_commit(session: Session, service_id: int, commit: str) -> ImageView | None:
    """The newest image of `commit` still in the registry, if any."""
    row = session.scalar(
        select(ImageRow)
        .where(
            ImageRow.service_id == service_id,
            ImageRow.commit == commit,
            ImageRow.deleted_at.is_(None),
        )
        .order_by(ImageRow.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    team, service = _names(session, service_id)
    return image_view(row, team=team, service=service)


def image_by_id(session: Session, image_id: int) -> ImageView | None:
    row = session.get(ImageRow, image_id)
    if row is None:
        return None
    team, service = _names(session, row.service_id)
    return image_view(row, team=team, service=service)


def image_by_digest(session: Session, service_id: int, digest: str) -> ImageView | None:
    row = session.scalar(
        select(ImageRow).where(ImageRow.service_id == service_id, ImageRow.digest == digest)
    )
    if row is None:
        return None
    team, service = _names(session, service_id)
    return image_view(row, team=team, service=service)


def list_images(
    session: Session, who: Principal, *, team: str, service: str, limit: int = 50
) -> list[ImageView]:
    """Newest first, including those retention removed (marked `deleted_at`)."""
    svc = service_row(session, who, team, service)
    rows = session.scalars(
        select(ImageRow)
        .where(ImageRow.service_id == svc.id)
        .order_by(ImageRow.id.desc())
        .limit(min(max(limit, 1), MAX_IMAGES))
    )
    return [image_view(row, team=team, service=service) for row in rows]


def present_images_by_service(session: Session) -> list[tuple[int, ImageView]]:
    """Every image still in the registry, with its service's id, for retention."""
    rows = session.execute(
        select(ImageRow, TeamRow.name, ServiceRow.name)
        .join(ServiceRow, ServiceRow.id == ImageRow.service_id)
        .join(TeamRow, TeamRow.id == ServiceRow.team_id)
        .where(ImageRow.deleted_at.is_(None))
        .order_by(ImageRow.id)
    )
    return [
        (row.service_id, image_view(row, team=team, service=service)) for row, team, service in rows
    ]


def mark_deleted(session: Session, image_ids: list[int], *, now: datetime) -> None:
    for row in session.scalars(select(ImageRow).where(ImageRow.id.in_(image_ids))):
        row.deleted_at = now


def recent_release_images(session: Session, *, keep: int) -> dict[int, set[str]]:
    """The images (as written in the release) of the newest `keep` revisions of every
    environment, by service id: what a rollback may need."""
    rows = session.execute(
        select(ReleaseRow.service_id, ReleaseRow.env, ReleaseRow.spec).order_by(
            ReleaseRow.service_id, ReleaseRow.env, ReleaseRow.number.desc()
        )
    )
    found: dict[int, set[str]] = {}
    seen: dict[tuple[int, str], int] = {}
    for service_id, env, spec in rows:
        count = seen.get((service_id, env), 0)
        if count < keep:
            seen[(service_id, env)] = count + 1
            found.setdefault(service_id, set()).add(str(spec.get("image", "")))
    return found


def image_carried_over(
    session: Session, who: Principal, *, team: str, service: str, env: Environment
) -> str:
    """The image a deploy without one would run: the current revision's, else the template's."""
    svc = service_row(session, who, team, service)
    current = session.scalar(
        select(ReleaseRow.spec)
        .join(
            EnvironmentRow,
            (EnvironmentRow.service_id == ReleaseRow.service_id)
            & (EnvironmentRow.name == ReleaseRow.env)
            & (EnvironmentRow.current_revision == ReleaseRow.number),
        )
        .where(ReleaseRow.service_id == svc.id, ReleaseRow.env == env.value)
    )
    return str((current or svc.spec)["image"])
