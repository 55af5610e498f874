"""Logging in with an API token, and out again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dockyard.domain.errors import DockyardError, Unauthorized
from dockyard.portal.auth import (
    COOKIE,
    COOKIE_MAX_AGE_S,
    base_path,
    check_csrf,
    current_viewer,
    login,
    portal_deps,
)
from dockyard.portal.errors import notice_for
from dockyard.portal.rendering import render

router = APIRouter()
FormText = Annotated[str, Form()]
NextQuery = Annotated[str, Query(alias="next")]  # where to go after logging in
NextForm = Annotated[str, Form(alias="next")]
SESSION_ENDED = "ended"


def safe_next(request: Request, target: str) -> str:
    """Only a path inside the portal: never an open redirect to another site."""
    base = base_path(request)
    inside = target.startswith(f"{base}/") and not target.startswith("//") and "\\" not in target
    return target if inside else f"{base}/"


def cookie_path(request: Request) -> str:
    return base_path(request) or "/"


def _why(exc: Unauthorized) -> str:
    # The store words an unknown token for the CLI user; on this form say what to paste.
    if exc.message.startswith("the token is not valid"):
        return "That token is not valid: paste the whole API token (it starts with dy_)."
    return notice_for(exc).message


@router.get("/login")
def login_form(request: Request, next_url: NextQuery = "", reason: str = "") -> Response:
    ended = "Your session has ended; log in again." if reason == SESSION_ENDED else None
    return render(
        request,
        "login.html",
        viewer=None,
        next=safe_next(request, next_url),
        error=None,
        info=ended,
    )


@router.post("/login")
def login_submit(request: Request, token: FormText = "", next_url: NextForm = "") -> Response:
    try:
        login(portal_deps(request), token)
    except Unauthorized as exc:
        return render(
            request, "login.html", viewer=None, status_code=401,
            next=safe_next(request, next_url), error=_why(exc), info=None,
        )  # fmt: skip
    response = RedirectResponse(safe_next(request, next_url), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE_S,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=portal_deps(request).cookie_secure,
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: FormText = "") -> Response:
    """Clears the cookie. The CSRF check stops another site from logging the viewer out."""
    try:
        check_csrf(request, current_viewer(request), csrf)
    except DockyardError as exc:
        return render(request, "error.html", viewer=None, status_code=403, notice=notice_for(exc))
    response = RedirectResponse(f"{base_path(request)}/login", status_code=303)
    response.delete_cookie(
        COOKIE,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=portal_deps(request).cookie_secure,
    )
    return response
