"""`GET /healthz`: is this server able to answer (can it reach its database)? No token needed."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from dockyard.api.deps import Deps
from dockyard.api.schemas import ErrorBody

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", responses={503: {"model": ErrorBody}})
async def healthz(*, deps: Deps) -> Health:
    """`{"status": "ok"}` once the database answered a trivial query; 503 JSON if it did not."""
    deps.db.ping()  # Unavailable (-> 503) if the database does not answer
    return Health(status="ok")
