"""Provenance beside each log line: the revision its instance runs, that revision's image digest
and the commit it was built from (store/origins.py), so a line of an error can be traced to the
code that wrote it; the instance itself links to its row on the service page.

Lines of instances whose row is gone (or of builds) show no origin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import replace

from starlette.requests import Request

from dockyard.portal.auth import Viewer, portal_deps
from dockyard.portal.log_view import ShownLine
from dockyard.store.origins import Origin, origins

DIGEST_SHOWN = 8
COMMIT_SHOWN = 8


def origin_text(origin: Origin) -> str:
    """`r3 · 1a2b3c4d · 9f8e7d6c`: revision, short image digest, short commit (the parts known;
    the page's tooltip has the whole image reference)."""
    parts = [f"r{origin.revision}"]
    if origin.digest:
        parts.append(origin.digest.partition(":")[2][:DIGEST_SHOWN])
    if origin.commit:
        parts.append(origin.commit[:COMMIT_SHOWN])
    return " · ".join(parts)


def with_origin(line: ShownLine, found: Mapping[str, Origin]) -> ShownLine:
    """`line` with its instance's origin, if known."""
    origin = found.get(line.instance)
    if origin is None:
        return line
    return replace(line, origin=origin_text(origin), image=origin.image)


async def origins_of(
    request: Request, viewer: Viewer, *, team: str, service: str, instances: Iterable[str]
) -> dict[str, Origin]:
    """The origins of `instances` of the service, as the viewer may see them."""
    db, who = portal_deps(request).db, viewer.principal
    wanted = tuple(instances)

    def read() -> dict[str, Origin]:
        with db.session() as session:
            return origins(session, who, team=team, service=service, instances=wanted)

    return await asyncio.to_thread(read)
