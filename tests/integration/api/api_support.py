"""Helpers shared by the REST API tests (fixtures live in conftest.py)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dockyard.store.db import Database
from dockyard.store.models import Base

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx is what this project has.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
API = "/api/v1"


class MovableClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a refused request changed nothing."""
    with db.session() as session:
        return {
            table.name: [tuple(row) for row in session.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


def make_team(client: TestClient, admin: dict[str, str], name: str) -> dict[str, str]:
    """Create team `name` and return headers carrying a fresh token of that team."""
    assert client.post(f"{API}/teams", json={"name": name}, headers=admin).status_code == 201
    answer = client.post(f"{API}/teams/{name}/tokens", json={"name": "ci"}, headers=admin)
    assert answer.status_code == 201, answer.text
    return bearer(answer.json()["token"])
