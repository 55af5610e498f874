"""Images: what was built for a service, where an instance came from, and retention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dockyard.api.auth import Who
from dockyard.api.bounds import ServicePath, ShortPath, TeamPath
from dockyard.api.deps import Deps
from dockyard.api.image_schemas import (
    ImagePublic,
    ProvenancePublic,
    RetentionPublic,
    RetentionRequest,
    VerdictPublic,
)
from dockyard.api.imaging import Center
from dockyard.api.schemas import Items
from dockyard.images import retention
from dockyard.store import images, provenance
from dockyard.store.images import MAX_IMAGES

router = APIRouter(tags=["images"])

SERVICE = "/teams/{team}/services/{svc}"


@router.get(SERVICE + "/images")
def list_images(
    *,
    team: TeamPath,
    svc: ServicePath,
    who: Who,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=MAX_IMAGES)] = 50,
) -> Items[ImagePublic]:
    """Newest first; images retention removed from the registry carry `deleted_at`."""
    with deps.db.session() as session:
        views = images.list_images(session, who, team=team, service=svc, limit=limit)
    return Items[ImagePublic](items=[ImagePublic.of(view) for view in views])


@router.get("/teams/{team}/instances/{instance}/provenance")
def get_provenance(
    *, team: TeamPath, instance: ShortPath, who: Who, deps: Deps
) -> ProvenancePublic:
    """Instance -> revision -> digest -> commit -> build (and its log) -> who released it."""
    with deps.db.session() as session:
        found = provenance.provenance(session, who, team=team, instance=instance)
    log_path = (
        f"/api/v1/teams/{team}/services/{found.service}/builds/{found.build.number}/log"
        if found.build
        else None
    )
    return ProvenancePublic.of(found, log_path=log_path)


@router.post("/images/retention")
def apply_retention(
    *, who: Who, deps: Deps, center: Center, body: RetentionRequest | None = None
) -> RetentionPublic:
    """(admin) Delete from the registry every image no recent revision runs; `dry_run`
    (the default) only lists them. Run `dockyard images gc` on the registry's host after."""
    who.require_admin()
    body = body or RetentionRequest()
    keep = body.keep_revisions or center.retention.keep_revisions
    verdicts = retention.sweep(
        deps.db, center.registry, keep_revisions=keep, min_age_s=center.retention.min_age_s,
        now=deps.clock(), dry_run=body.dry_run,
    )  # fmt: skip
    return RetentionPublic(
        dry_run=body.dry_run,
        keep_revisions=keep,
        deleted=[VerdictPublic.of(v) for v in verdicts if not v.keep],
        kept=[VerdictPublic.of(v) for v in verdicts if v.keep],
    )
