"""The forms that change desired state: scale and roll back one environment.

Each writes one new revision through the store, calls `notify` once it has committed, and
answers with the forms redrawn around a notice: what was done, or why it was refused. Store
errors never become an error page; they are shown next to the form that caused them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError, Invalid
from dockyard.portal.auth import Viewer, check_csrf, portal_deps
from dockyard.portal.errors import Notice, done, notice_for
from dockyard.portal.pages import ViewerDep, read_page, service_response
from dockyard.store import releases
from dockyard.store.releases import Change
from dockyard.store.status import key_for
from dockyard.store.views import ReleaseView

log = logging.getLogger(__name__)
router = APIRouter()
FormText = Annotated[str, Form()]
ENV_ROUTE = "/teams/{team}/services/{service}/envs/{env}"

Write = Callable[[Session, Change], ReleaseView]


@dataclass(frozen=True)
class Target:
    """The environment a form acts on, as named in its URL."""

    team: str
    service: str
    env: str


def whole_number(text: str, *, what: str, field: str) -> int | None:
    """The number typed into a form field; None when it was left empty."""
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise Invalid(f"{what} must be a whole number, e.g. 3; got {text!r}", field=field) from None


def commit(
    request: Request, viewer: Viewer, target: Target, *, expected: str, write: Write
) -> ReleaseView:
    """Write one revision in one transaction, then tell the controller about it."""
    deps = portal_deps(request)
    env = Environment.parse(target.env)
    expected_revision = whole_number(expected, what="expected_revision", field="expected_revision")
    with deps.db.session() as session:
        release = write(session, Change(viewer.principal, deps.clock(), expected_revision))
        key = key_for(session, team=target.team, service=target.service, env=env)
    if key is not None:
        try:
            deps.notify(key)
        except Exception:
            # The revision is committed and the controller's periodic pass will find it, so a
            # failed nudge must not be reported to the user as a failed change.
            log.exception("notify failed after a portal change key=%s", key)
    return release


def handle(
    request: Request,
    viewer: Viewer,
    target: Target,
    *,
    csrf: str,
    change: Callable[[Environment], Notice],
) -> Response:
    """Run `change` after the CSRF check and answer with the page's forms and its outcome."""
    try:
        check_csrf(request, viewer, csrf)
        notice = change(Environment.parse(target.env))
    except DockyardError as exc:
        notice = notice_for(exc)
    page = read_page(request, viewer, team=target.team, service=target.service, env=target.env)
    return service_response(request, viewer, page, notice)


@router.post(ENV_ROUTE + "/scale")
def scale(
    request: Request,
    *,
    team: str,
    service: str,
    env: str,
    viewer: ViewerDep,
    replicas: FormText = "",
    expected_revision: FormText = "",
    csrf: FormText = "",
) -> Response:
    target = Target(team, service, env)

    def apply_scale(environment: Environment) -> Notice:
        count = whole_number(replicas, what="replicas", field="replicas")
        if count is None:
            raise Invalid("enter the number of replicas, e.g. 3", field="replicas")
        release = commit(
            request, viewer, target, expected=expected_revision,
            write=lambda session, change: releases.scale(
                session, change, team=team, service=service, env=environment, replicas=count
            ),
        )  # fmt: skip
        return done(f"{environment.value} scaled to {count}: revision {release.number}")

    return handle(request, viewer, target, csrf=csrf, change=apply_scale)


@router.post(ENV_ROUTE + "/rollback")
def rollback(
    request: Request,
    *,
    team: str,
    service: str,
    env: str,
    viewer: ViewerDep,
    to: FormText = "",
    expected_revision: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Re-apply revision `to` (empty: the one before the current) as a new revision."""
    target = Target(team, service, env)

    def apply_rollback(environment: Environment) -> Notice:
        revision = whole_number(to, what="the revision to roll back to", field="to")
        release = commit(
            request, viewer, target, expected=expected_revision,
            write=lambda session, change: releases.rollback(
                session, change, team=team, service=service, env=environment, to=revision
            ),
        )  # fmt: skip
        return done(
            f"{environment.value} is at revision {release.number} ({release.cause}), "
            f"running {release.replicas}× {release.spec.image}"
        )

    return handle(request, viewer, target, csrf=csrf, change=apply_rollback)
