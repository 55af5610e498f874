"""Every error leaves the API here, once, as `{"error", "message", "field"}` JSON (docs/api.md).

Routes raise domain errors (dockyard.domain.errors) and never build HTTP errors themselves; the
one table below says which HTTP status each domain error class becomes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from dockyard.api.bounds import RULES
from dockyard.domain.errors import (
    Conflict,
    DiskFull,
    DockyardError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    QuotaExceeded,
    RuntimeFailure,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from dockyard.images.hosted import REMOTE_PREFIX

log = logging.getLogger("dockyard.api")

GIT_PREFIX = REMOTE_PREFIX
"""Where the hosted git remotes are served (smart HTTP, `routes.git_http`)."""

STATUS: Final[Mapping[type[DockyardError], int]] = {
    Invalid: 422,
    # A search the caller wrote and the server cannot read (syntax, times, cursor).
    Malformed: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    QuotaExceeded: 403,
    Unavailable: 503,
    # 507 Insufficient Storage: retrying helps only once someone frees space, so not a 503.
    DiskFull: 507,
    # The API never drives a runtime, but a store or a collaborator might pass one through.
    RuntimeFailure: 502,
}

# Codes for errors Starlette raises itself (unknown route, wrong method) before any route runs.
_HTTP_CODES: Final[Mapping[int, str]] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}

# Where FastAPI says a bad value came from; users name fields without it.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
_MAX_LISTED = 3


def status_for(exc: DockyardError) -> int:
    """The HTTP status for a domain error: the nearest class in the table, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_json(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "field": field}


def error_response(exc: DockyardError, *, challenge: str = "Bearer") -> JSONResponse:
    """The JSON response for a domain error (401s also say how to authenticate: `challenge`)."""
    headers = {"WWW-Authenticate": challenge} if isinstance(exc, Unauthorized) else None
    return JSONResponse(
        error_json(exc.code, exc.message, exc.field), status_code=status_for(exc), headers=headers
    )


def describe_validation(errors: Sequence[Any]) -> tuple[str | None, str]:
    """(field, message) for FastAPI/pydantic validation errors: the first field, every problem."""
    described = [_describe(error) for error in errors[:_MAX_LISTED]]
    field = described[0][0] if described else None
    message = "; ".join(text for _, text in described) or "the request is invalid"
    if len(errors) > _MAX_LISTED:
        message += f"; and {len(errors) - _MAX_LISTED} more problems"
    return field, message


def _describe(error: Mapping[str, Any]) -> tuple[str | None, str]:
    loc = list(error.get("loc", ()))
    if loc and loc[0] in _SOURCES:
        loc = loc[1:]
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed")
        where = f" at position {loc[0]}" if loc else ""
        return None, f"the body is not valid JSON ({reason}{where}); send one JSON object"
    if loc and loc[-1] == "[key]":
        # A mapping's key (an env var's name): the mapping is the field, the key its value.
        return _describe_key(loc, error)
    field = ".".join(str(part) for part in loc) or None
    if field is None:
        if kind == "missing":
            return None, "a JSON body is required; see /api/docs for its fields"
        return None, (
            "the body must be one JSON object sent with Content-Type: application/json "
            f"({error.get('msg', 'invalid')})"
        )
    if kind == "extra_forbidden":
        return field, f"unknown field {field!r}: remove it (see /api/docs for the accepted fields)"
    if kind == "missing":
        return field, f"{field} is required: add it (see /api/docs for the fields)"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        if pattern in RULES:
            return field, f"{field} {RULES[pattern]}"
    return field, f"{field}: {error.get('msg', 'invalid value')}"


def _describe_key(loc: list[Any], error: Mapping[str, Any]) -> tuple[str | None, str]:
    field = ".".join(str(part) for part in loc[:-2]) or None
    key = loc[-2]
    pattern = (error.get("ctx") or {}).get("pattern", "")
    rule = RULES.get(pattern, error.get("msg", "is invalid"))
    return field, f"{field}: the name {key!r} {rule}"


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DockyardError)
    if request.url.path.startswith(GIT_PREFIX + "/"):
        # git asks for a user name and password (the token) only when offered Basic.
        return error_response(exc, challenge='Basic realm="Dockyard"')
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    field, message = describe_validation(exc.errors())
    return JSONResponse(error_json(Invalid.code, message, field), status_code=422)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it could not read at all (not UTF-8, say): the same
        # mistake as a malformed one, so the same documented 422, never an undocumented 400.
        return JSONResponse(error_json(Invalid.code, _unreadable_body(exc)), status_code=422)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = "no such route; the routes are listed at /api/docs"
    elif exc.status_code == 405:
        allowed = _allowed_methods(request, exc)
        headers["Allow"] = ", ".join(allowed)
        message = f"this route accepts {', '.join(allowed)} only; see /api/docs"
    return JSONResponse(error_json(code, message), status_code=exc.status_code, headers=headers)


def _unreadable_body(exc: HTTPException) -> str:
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return "the body is not UTF-8 text; send one JSON object, encoded as UTF-8"
    return "the body could not be read; send one JSON object with Content-Type: application/json"


def _allowed_methods(request: Request, exc: HTTPException) -> list[str]:
    """Every method the OpenAPI document lists for this path. Starlette's own 405 names only
    the first route that matched the path, while each method of a path is a route here."""
    path = request.url.path
    allowed = {
        method.upper()
        for template, operations in request.app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
        for method in operations
    }
    if not allowed:  # a route outside the document (the git remotes): Starlette knows
        allowed = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m}
    return sorted(allowed)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, never to the caller: it may name internals.
    log.error("unexpected error method=%s path=%s", request.method, request.url.path, exc_info=exc)
    message = (
        "an unexpected error occurred and was logged; retry, and tell the platform team "
        "if it happens again"
    )
    return JSONResponse(error_json("internal", message), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the documented JSON shape."""
    app.add_exception_handler(DockyardError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
