"""Helpers shared by the store tests (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dockyard.domain.principal import Principal
from dockyard.domain.spec import Port, ServiceSpec
from dockyard.store.db import Database
from dockyard.store.models import Base

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal(token_id="admin", name="admin", team=None)
SPEC = ServiceSpec(
    image="alpha/web:1", ports=(Port(container_port=8080),), env=(("A", "1"), ("B", "2"))
)


def later(**delta: float) -> datetime:
    """START moved forward by `delta` (keyword arguments of timedelta)."""
    return START + timedelta(**delta)


def member(team: str, name: str = "ci") -> Principal:
    """A principal holding a token of `team`."""
    return Principal(token_id=f"{team}-{name}", name=name, team=team)


def count(db: Database, table: type[Base], **where: Any) -> int:
    """Rows of `table` whose columns equal `where`."""
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(getattr(table, column) == value)
    with db.session() as session:
        return session.scalar(query) or 0


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused change wrote nothing."""
    with db.session() as session:
        return {
            table.name: sorted(tuple(row) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }
