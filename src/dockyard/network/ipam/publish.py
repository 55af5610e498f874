"""Mirror every segment of the database to etcd: the server runs this at start, so a change
committed while etcd was unreachable (or a withdrawn segment) is put right."""

from __future__ import annotations

import logging

from dockyard.network.ipam.directory import Directory
from dockyard.store import segments
from dockyard.store.db import Database

log = logging.getLogger("dockyard.network.ipam")


async def publish_segments(db: Database, directory: Directory) -> int:
    """Write each segment's configuration to etcd and withdraw ones the database lacks.

    Returns how many were published; Unavailable if etcd does not answer (retry later).
    """
    with db.session() as session:
        records = segments.list_segments(session)
        fixed = segments.fixed_addresses(session)
    known = {record.segment.name for record in records}
    for record in records:
        mine = [item for item in fixed if item.segment == record.segment.name]
        await directory.publish(record.segment, mine)
    for segment, _ in await directory.load_all():
        if segment.name not in known:
            await directory.withdraw(segment.name)
            log.info("segment withdrawn from etcd segment=%s", segment.name)
    return len(records)


__all__ = ["publish_segments"]
