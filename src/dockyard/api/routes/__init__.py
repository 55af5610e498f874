"""The API's routes, one module per noun. Each calls the store and lets domain errors flow to
`dockyard.api.errors`; none builds an HTTP error itself."""

from __future__ import annotations

from typing import Any

from dockyard.api.schemas import ErrorBody

# Documented on every /api/v1 route, so OpenAPI clients know the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No token, or an unknown, revoked or expired one"},
    403: {"model": ErrorBody, "description": "Admin only, or over the team's quota"},
    404: {"model": ErrorBody, "description": "No such thing (or not yours)"},
    409: {"model": ErrorBody, "description": "A concurrent change, a taken name, a stale revision"},
    413: {"model": ErrorBody, "description": "The body is over the size limit"},
    422: {"model": ErrorBody, "description": "A malformed body, an unknown field, a bad value"},
    503: {"model": ErrorBody, "description": "The platform database does not answer"},
    507: {"model": ErrorBody, "description": "A disk the platform writes to is full"},
}
