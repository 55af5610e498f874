"""The image center's pages: a service's builds (with the log of one, live) and images, and its
promotion pipeline test -> sandbox -> online (and stable) with the gates and the buttons.

Live parts poll, as the service page does: the build log asks for the text after the offset it
has shown (the answer appends it and names the next offset), the pipeline redraws itself.
Forms post, change desired state through the store, and answer with the part they changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dockyard.domain.environment import Environment
from dockyard.domain.errors import DockyardError
from dockyard.domain.status import EnvKey
from dockyard.images import promotion
from dockyard.logs.build_lines import build_instance
from dockyard.logs.record import BUILD_ENV
from dockyard.portal.auth import Viewer, base_path, check_csrf, portal_deps
from dockyard.portal.errors import Notice, done, notice_for
from dockyard.portal.pages import ViewerDep
from dockyard.portal.rendering import is_htmx, render
from dockyard.store import builds, images
from dockyard.store.releases import Change
from dockyard.store.status import key_for

log = logging.getLogger(__name__)
router = APIRouter()
FormText = Annotated[str, Form()]
SERVICE = "/teams/{team}/services/{service}"
LOG_POLL_S = 1
PIPELINE_POLL_S = 2


def _service_url(request: Request, team: str, service: str) -> str:
    return f"{base_path(request)}/teams/{team}/services/{service}"


def _wake_builder(request: Request) -> None:
    wake = getattr(request.app.state, "wake_builder", None)
    if wake is not None:
        wake()


def install_builder_wake(app: FastAPI, wake: Callable[[], None]) -> None:
    """Let the portal start queued builds at once (else the builder finds them within a poll)."""
    app.state.wake_builder = wake


# -- builds and images ----------------------------------------------------------------------


@router.get(SERVICE + "/builds")
def builds_page(
    request: Request, *, team: str, service: str, viewer: ViewerDep, notice: Notice | None = None
) -> Response:
    deps = portal_deps(request)
    with deps.db.session() as session:
        source = images.get_source(session, viewer.principal, team=team, service=service)
        found = builds.list_builds(session, viewer.principal, team=team, service=service)
        built = images.list_images(session, viewer.principal, team=team, service=service)
    return render(
        request, "builds.html", viewer=viewer, team=team, service=service, source=source,
        builds=found, images=built, notice=notice,
        status_code=notice.status_code if notice else 200,
    )  # fmt: skip


@router.post(SERVICE + "/builds")
def start_build(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    ref: FormText = "",
    force: FormText = "",
    deploy_to: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Queue a build and go to its page (where its log runs live)."""
    deps = portal_deps(request)
    try:
        check_csrf(request, viewer, csrf)
        target = Environment.parse(deploy_to) if deploy_to else None
        with deps.db.session() as session:
            queued = builds.request_build(
                session, viewer.principal, team=team, service=service, ref=ref.strip() or None,
                force=bool(force), deploy_to=target, now=deps.clock(),
            )  # fmt: skip
    except DockyardError as exc:
        return builds_page(
            request, team=team, service=service, viewer=viewer, notice=notice_for(exc)
        )
    _wake_builder(request)
    url = f"{_service_url(request, team, service)}/builds/{queued.number}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get(SERVICE + "/builds/{number}")
def build_page(
    request: Request, *, team: str, service: str, number: int, viewer: ViewerDep
) -> Response:
    deps = portal_deps(request)
    with deps.db.session() as session:
        build = builds.get_build(
            session, viewer.principal, team=team, service=service, number=number
        )
        page = builds.read_log(session, viewer.principal, team=team, service=service, number=number)
    # The same lines in the log center (searchable, kept with the service's other logs).
    instance = build_instance(number, page.build_id)
    center_url = f"{_service_url(request, team, service)}/logs?env={BUILD_ENV}&instance={instance}"
    return render(
        request, "build.html", viewer=viewer, team=team, service=service, build=build, page=page,
        poll_seconds=LOG_POLL_S, log_center_url=center_url,
    )  # fmt: skip


@router.get(SERVICE + "/builds/{number}/log")
def build_log_fragment(
    request: Request, *, team: str, service: str, number: int, viewer: ViewerDep, after: int = 0
) -> Response:
    """The log after `after` (appended out of band), the build's state, and the next poller."""
    deps = portal_deps(request)
    with deps.db.session() as session:
        page = builds.read_log(
            session, viewer.principal, team=team, service=service, number=number, after=after
        )
        build = builds.get_build(
            session, viewer.principal, team=team, service=service, number=number
        )
    return render(
        request, "_build_log.html", viewer=viewer, team=team, service=service, build=build,
        page=page, poll_seconds=LOG_POLL_S,
    )  # fmt: skip


# -- promotion ------------------------------------------------------------------------------


def _pipeline_response(
    request: Request, viewer: Viewer, *, team: str, service: str, notice: Notice | None,
    template: str,
) -> Response:  # fmt: skip
    deps = portal_deps(request)
    with deps.db.session() as session:
        found = promotion.pipeline(
            session, viewer.principal, team=team, service=service, now=deps.clock()
        )
    return render(
        request, template, viewer=viewer, team=team, service=service, pipeline=found,
        notice=notice, poll_seconds=PIPELINE_POLL_S,
        status_code=notice.status_code if notice and template != "_pipeline.html" else 200,
    )  # fmt: skip


@router.get(SERVICE + "/promotion")
def promotion_page(request: Request, *, team: str, service: str, viewer: ViewerDep) -> Response:
    return _pipeline_response(
        request, viewer, team=team, service=service, notice=None, template="promotion.html"
    )


@router.get(SERVICE + "/promotion/live")
def promotion_fragment(request: Request, *, team: str, service: str, viewer: ViewerDep) -> Response:
    return _pipeline_response(
        request, viewer, team=team, service=service, notice=None, template="_pipeline.html"
    )


@router.post(SERVICE + "/promote")
def promote(
    request: Request,
    *,
    team: str,
    service: str,
    viewer: ViewerDep,
    source: FormText = "",
    target: FormText = "",
    csrf: FormText = "",
) -> Response:
    """Promote what `source` runs into `target`; the pipeline comes back with the outcome."""
    deps = portal_deps(request)
    try:
        check_csrf(request, viewer, csrf)
        source_env, target_env = Environment.parse(source), Environment.parse(target)
        with deps.db.session() as session:
            release = promotion.promote(
                session, Change(viewer.principal, deps.clock()), team=team, service=service,
                source=source_env, target=target_env,
            )  # fmt: skip
            key = key_for(session, team=team, service=service, env=target_env)
        if key is not None:
            _notify(request, key)
        notice = done(f"{target_env.value} is at revision {release.number}: {release.cause}")
    except DockyardError as exc:
        notice = notice_for(exc)
    return _after_form(request, viewer, team=team, service=service, notice=notice)


@router.post(SERVICE + "/approve")
def approve(
    request: Request, *, team: str, service: str, viewer: ViewerDep, csrf: FormText = ""
) -> Response:
    """Approve for online the digest sandbox runs."""
    deps = portal_deps(request)
    try:
        check_csrf(request, viewer, csrf)
        with deps.db.session() as session:
            digest = promotion.approve(
                session, viewer.principal, team=team, service=service, digest=None,
                now=deps.clock(),
            )  # fmt: skip
        notice = done(f"{viewer.principal.actor} approved {digest[:19]}… for online")
    except DockyardError as exc:
        notice = notice_for(exc)
    return _after_form(request, viewer, team=team, service=service, notice=notice)


def _after_form(
    request: Request, viewer: Viewer, *, team: str, service: str, notice: Notice
) -> Response:
    template = "_pipeline.html" if is_htmx(request) else "promotion.html"
    return _pipeline_response(
        request, viewer, team=team, service=service, notice=notice, template=template
    )


def _notify(request: Request, key: EnvKey) -> None:
    try:
        portal_deps(request).notify(key)
    except Exception:
        # The revision is committed; the controller's periodic pass finds it anyway.
        log.exception("notify failed after a promotion from the portal key=%s", key)
