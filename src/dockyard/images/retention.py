"""Retention: which images leave the registry, and removing them.

An image stays while any of the newest N revisions of any environment of its service runs it
(a rollback may need it), and while it is younger than the minimum age (it may be deployed
soon). Every other image Dockyard built is deleted from the registry by digest. Its blobs are
freed by the registry's garbage collection afterwards (`dockyard images gc`, on the registry's
host). Base images and anything else Dockyard did not build are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dockyard.images.naming import digest_of
from dockyard.images.registry import RegistryClient
from dockyard.store import images
from dockyard.store.db import Database
from dockyard.store.images import ImageView


@dataclass(frozen=True)
class Verdict:
    image: ImageView
    keep: bool
    why: str


def judge(
    candidates: Iterable[tuple[int, ImageView]],
    *,
    in_use: Mapping[int, set[str]],
    now: datetime,
    min_age_s: float,
) -> list[Verdict]:
    """Keep or delete each (service id, image), and why. Pure."""
    verdicts = []
    for service_id, image in candidates:
        digests = {digest_of(ref) for ref in in_use.get(service_id, set()) if "@" in ref}
        age = (now - image.created_at).total_seconds()
        if image.digest in digests:
            verdicts.append(Verdict(image, True, "a recent revision runs it"))
        elif age < min_age_s:
            verdicts.append(
                Verdict(image, True, f"built {age:.0f} s ago (minimum age {min_age_s:g} s)")
            )
        else:
            verdicts.append(Verdict(image, False, "no recent revision runs it"))
    return verdicts


def sweep(
    db: Database,
    registry: RegistryClient,
    *,
    keep_revisions: int,
    min_age_s: float,
    now: datetime,
    dry_run: bool,
) -> list[Verdict]:
    """Judge every image in the registry and, unless `dry_run`, delete those not kept.

    An image is marked deleted only once the registry deleted it; a failure part-way leaves
    the rest for the next sweep.
    """
    with db.session() as session:
        present = images.present_images_by_service(session)
        in_use = images.recent_release_images(session, keep=keep_revisions)
    verdicts = judge(present, in_use=in_use, now=now, min_age_s=min_age_s)
    if dry_run:
        return verdicts
    for verdict in verdicts:
        if verdict.keep:
            continue
        registry.delete(f"{verdict.image.team}/{verdict.image.service}", verdict.image.digest)
        with db.session() as session:
            images.mark_deleted(session, [verdict.image.id], now=now)
    return verdicts
