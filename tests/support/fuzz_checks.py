"""Checks the API fuzzer runs on every answer besides schemathesis's own (loaded by it through
SCHEMATHESIS_HOOKS): every 4xx is Dockyard's error JSON, naming the problem.

schemathesis's schema check covers the 4xx an operation documents; this one covers every 4xx,
405 and unknown routes included, and asks for a message a user can act on.
"""

from __future__ import annotations

import json

import schemathesis

MIN_MESSAGE = 15  # shorter than this cannot say what was wrong and what to do


@schemathesis.check
def client_error_is_dockyard_json(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        raise AssertionError(f"{response.status_code} answered {content_type!r}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} body is not JSON: {exc}") from None
    if not isinstance(body, dict) or set(body) != {"error", "message", "field"}:
        raise AssertionError(f"{response.status_code} body is not the error shape: {body!r}")
    if not isinstance(body["error"], str) or not body["error"]:
        raise AssertionError(f"{response.status_code} body names no error code: {body!r}")
    message = body["message"]
    if not isinstance(message, str) or len(message) < MIN_MESSAGE:
        raise AssertionError(f"{response.status_code} message says too little: {message!r}")
    return True
