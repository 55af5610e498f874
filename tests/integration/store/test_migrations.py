"""The schema: Alembic builds it from nothing, re-running is harmless, and it matches the models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, insert, inspect, select

from dockyard import store
from dockyard.store import teams
from dockyard.store.db import Database, open_engine
from dockyard.store.models import Base

from .store_support import ADMIN, SPEC, START


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(store.__file__).parent / "migrations"))
    return config


def _head() -> set[str]:
    # Parts of the platform add migrations of their own branching from the same parent, so
    # the schema may have several heads; the database must be at every one of them.
    heads = set(ScriptDirectory.from_config(_config()).get_heads())
    assert heads
    return heads


def _revision(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def test_migrations_build_every_table_from_an_empty_database(url: str) -> None:
    database = Database.open(url)
    try:
        tables = set(inspect(database.engine).get_table_names())
        assert tables == {*Base.metadata.tables, "alembic_version"}
        assert _revision(database) == _head()
    finally:
        database.close()


def test_opening_a_migrated_database_again_keeps_schema_and_data(url: str) -> None:
    first = Database.open(url)
    with first.session() as session:
        teams.create_team(session, ADMIN, name="alpha", description="", now=START)
    first.close()

    second = Database.open(url)
    try:
        assert _revision(second) == _head()
        with second.session() as session:
            assert [t.name for t in teams.list_teams(session, ADMIN)] == ["alpha"]
    finally:
        second.close()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    # What `alembic revision --autogenerate` would write: empty means no migration is missing.
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def _move(database: Database, verb: Callable[[Config, str], None], revision: str) -> None:
    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        verb(config, revision)


def test_upgrading_from_the_first_schema_and_back_keeps_existing_rows(url: str) -> None:
    database = Database(open_engine(url))
    try:
        _move(database, command.upgrade, "0001")
        with database.engine.begin() as connection:
            for table, row in _ROWS:
                connection.execute(insert(table), row)

        for verb, revision in [(command.upgrade, "heads"), (command.downgrade, "0001")]:
            _move(database, verb, revision)
            with database.engine.connect() as connection:
                found = [tuple(connection.execute(select(t)).one()) for t, _ in _ROWS]
            assert found == [tuple(row.values()) for _, row in _ROWS], revision
    finally:
        database.close()


# As it comes back from a JSON column: lists, not tuples.
_SPEC_JSON = json.loads(json.dumps(SPEC.to_json()))
_ROWS: list[tuple[Table, dict[str, Any]]] = [
    (
        Base.metadata.tables["teams"],
        {"id": 1, "name": "alpha", "description": "", "created_at": START},
    ),
    (
        Base.metadata.tables["services"],
        {
            "id": 1,
            "team_id": 1,
            "name": "web",
            "spec": _SPEC_JSON,
            "created_at": START,
            "updated_at": START,
            "deleted_at": None,
            "version": 1,
        },
    ),
    (
        Base.metadata.tables["releases"],
        {
            "id": 1,
            "service_id": 1,
            "env": "test",
            "number": 1,
            "spec": _SPEC_JSON,
            "template_hash": SPEC.template_hash,
            "replicas": 2,
            "cause": "deploy alpha/web:1",
            "created_by": "admin",
            "created_at": START,
        },
    ),
]
