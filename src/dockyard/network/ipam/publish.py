"""Mirror every segment of the database to etcd. The server runs this at start and then every
resync interval, level-triggered: a change committed while etcd was unreachable, a key lost
with an etcd restored from an old copy or deleted by hand, is put right within one interval,
and starts that waited on "segment not configured in etcd" resume by themselves."""

from __future__ import annotations

import logging

from dockyard.network.ipam.directory import Directory
from dockyard.network.ipam.records import segment_to_json
from dockyard.store import segments
from dockyard.store.db import Database

log = logging.getLogger("dockyard.network.ipam")


async def publish_segments(db: Database, directory: Directory) -> int:
    """Make etcd hold exactly the database's segments: write each one etcd lacks or holds
    otherwise, withdraw the ones the database lacks, leave the rest untouched.

    Returns how many keys it changed; Unavailable if etcd does not answer (retry later).
    """
    with db.session() as session:
        records = segments.list_segments(session)
        fixed = segments.fixed_addresses(session)
    found = await directory.published()
    changed = 0
    for record in records:
        name = record.segment.name
        mine = [item for item in fixed if item.segment == name]
        if found.get(name) != segment_to_json(record.segment, mine):
            await directory.publish(record.segment, mine)
            log.info("segment published to etcd segment=%s", name)
            changed += 1
    for name in found.keys() - {record.segment.name for record in records}:
        await directory.withdraw(name)
        log.info("segment withdrawn from etcd segment=%s", name)
        changed += 1
    return changed


__all__ = ["publish_segments"]
