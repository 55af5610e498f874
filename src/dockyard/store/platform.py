"""Which installation this database is: the id every container it makes is labelled with.

The id lives in the database, not in settings or a file: every server sharing the database
(README, "Several servers") reads the same one, and it survives restarts and moves of the
state directory. Migration 0006 makes the one row; nothing changes it afterwards.
"""

from __future__ import annotations

from sqlalchemy import select

from dockyard.domain.errors import Unavailable
from dockyard.domain.instance import Platform
from dockyard.store.db import Reader
from dockyard.store.models import PlatformRow


def this_platform(reader: Reader) -> Platform:
    """The platform this database describes. Unavailable if the row is missing (a database
    not brought up to date: `Database.open` migrates it)."""
    row = reader.execute(select(PlatformRow.id, PlatformRow.adopts_unlabelled)).first()
    if row is None:
        raise Unavailable(
            "the platform database has no platform row: open it with `dockyard server` (which "
            "runs its migrations) before using it"
        )
    return Platform(id=row.id, adopts_unlabelled=row.adopts_unlabelled)
