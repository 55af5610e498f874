"""The platform row: made once by migration 0006, the same for every server of one database."""

from __future__ import annotations

from alembic import command
from sqlalchemy import insert

from dockyard.store.db import Database, open_engine
from dockyard.store.platform import this_platform

from .test_migrations import _ROWS, _move


def platform_of(database: Database) -> tuple[str, bool]:
    with database.reading() as connection:
        found = this_platform(connection)
    return found.id, found.adopts_unlabelled


def test_a_new_database_is_a_platform_adopting_no_unlabelled_containers(url: str) -> None:
    first, second = Database.open(url), Database.open(url)  # two servers, one database
    try:
        platform_id, adopts = platform_of(first)
        assert len(platform_id) == 16 and not adopts
        assert platform_of(second) == (platform_id, False)
    finally:
        first.close()
        second.close()
    again = Database.open(url)  # a restart keeps it
    try:
        assert platform_of(again) == (platform_id, False)
    finally:
        again.close()


def test_a_database_with_services_before_the_label_adopts_unlabelled_containers(
    url: str,
) -> None:
    database = Database(open_engine(url))
    try:
        _move(database, command.upgrade, "0005")
        with database.engine.begin() as connection:
            for table, row in _ROWS:
                connection.execute(insert(table), row)
        _move(database, command.upgrade, "heads")

        assert platform_of(database)[1] is True
    finally:
        database.close()
