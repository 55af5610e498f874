"""`GET /healthz`: is this server able to answer (can it reach its database)? No token needed."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from dockyard.api.deps import Deps
from dockyard.api.schemas import ErrorBody

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", responses={503: {"model": ErrorBody}})
def healthz(*, deps: Deps) -> Health:
    """`{"status": "ok"}` once the database answered a trivial query; 503 JSON if it did not."""
    # A database that does not answer raises Unavailable from the session (-> 503).
    with deps.db.session() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok")
