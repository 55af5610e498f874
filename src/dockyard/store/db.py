"""Opening the platform database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, literal, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from dockyard.domain.errors import Conflict, Unavailable
from dockyard.store.disk import disk_full, is_disk_full

_MIGRATIONS = Path(__file__).parent / "migrations"
_PING = select(literal(1))

Reader: TypeAlias = Session | Connection
"""What read functions of the store accept: an ORM session, or the plain connection of
`Database.reading()` for the hot read paths (a prebuilt statement on a connection costs ~35 µs,
the same through a session ~115 µs)."""


def open_engine(url: str) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...), tuned for many readers."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Hot reads run on the server's event loop: a database that stops answering must fail a
    # request within seconds, not stall the loop (and the controllers on it) indefinitely.
    return create_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5, "options": "-c statement_timeout=30000"},
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the portal and API read while a controller writes; foreign keys make
    # ON DELETE CASCADE real; synchronous=NORMAL is durable under WAL across process crashes.
    cursor = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "busy_timeout=30000",
        "synchronous=NORMAL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (idempotent)."""
    # Alembic announces each of its plugins at INFO on every start of every process that opens
    # the database: noise in their logs. The migrations it runs are still logged.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            # "heads": parts of the platform add their tables in migrations of their own, which
            # may branch from the same parent; every branch is applied.
            command.upgrade(config, "heads")
    except OperationalError as exc:
        if exc.orig is not None and is_disk_full(exc.orig):
            raise disk_full(database_place(engine)) from exc
        raise Unavailable(f"the platform database does not answer: {exc.orig}") from exc


def database_place(engine: Engine) -> str:
    """Where the database's disk is, for a message: its file, or its PostgreSQL server."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database).resolve()) if url.database else "an in-memory database"
    return f"the PostgreSQL database {url.database} on {url.host}:{url.port or 5432}"


def _is_busy(exc: DBAPIError) -> bool:
    # SQLite reports a write that lost the race against another writer as "database is locked"
    # (SQLITE_BUSY / BUSY_SNAPSHOT under WAL); PostgreSQL as a serialization failure.
    text = str(exc.orig).lower()
    return "locked" in text or "could not serialize" in text


class Database:
    """The engine plus a session factory. Sessions are short: one per request or pass."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.place = database_place(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True) -> Database:
        engine = open_engine(url)
        if upgrade:
            migrate(engine)
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed if the block returns, rolled back if it raises.

        Losing a race is translated here, once: a stale version or a duplicate key becomes
        Conflict (the caller retries or reports 409); a full disk, DiskFull; a database that
        does not answer, Unavailable.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (StaleDataError, IntegrityError) as exc:
            raise Conflict(
                "the same thing was changed by another request at the same time; "
                "re-read it and retry"
            ) from exc
        except OperationalError as exc:
            if exc.orig is not None and is_disk_full(exc.orig):
                raise disk_full(self.place) from exc
            if _is_busy(exc):
                raise Conflict("the database was busy with a concurrent change; retry") from exc
            raise Unavailable(f"the platform database failed: {exc.orig}") from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a few read-only queries, without the cost of an ORM session.

        Nothing done through it is committed: it is rolled back when returned to the pool. A
        database that does not answer raises Unavailable (DiskFull for a full disk); other
        errors pass unchanged.
        """
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            if exc.orig is not None and is_disk_full(exc.orig):
                raise disk_full(self.place) from exc
            raise Unavailable(f"the platform database failed: {exc.orig}") from exc

    def ping(self) -> None:
        """Return once the database answered a trivial query; Unavailable if it did not."""
        with self.reading() as connection:
            connection.execute(_PING)

    def close(self) -> None:
        self.engine.dispose()
