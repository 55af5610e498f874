"""Hosted git remotes over smart HTTP: `git clone|fetch|push SERVER/git/TEAM/SERVICE.git`.

Each request runs `git http-backend` (images.git_http) with the body streamed in and the answer
streamed out; the API's 1 MiB body limit does not apply here, `max_push_bytes` does. Every
request needs a token, sent by git as HTTP Basic credentials (any user name, the token as the
password); without one the answer is 401 with a Basic challenge, so git asks for it. Another
team's service answers 404, as everywhere in the API. One request may take `git_timeout_s` in
all (body, answer and the client's pace included): then the child's process group is killed and
the request ends (503 if nothing was answered yet, else a cut-off answer). After a push,
`api.pushes` decides what to build, and its lines reach the pusher as `remote: ...`
(images.sideband).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dockyard.api import pushes
from dockyard.api.deps import ApiDeps, Deps
from dockyard.api.errors import GIT_PREFIX
from dockyard.api.git_access import GitCall, parse_git_path, token_of
from dockyard.api.imaging import Center
from dockyard.domain.errors import Unauthorized, Unavailable
from dockyard.domain.principal import Principal
from dockyard.images.git_http import Backend, CgiHead, CgiRequest, too_large
from dockyard.images.hosted import HostedRepos
from dockyard.images.sideband import PushTail
from dockyard.store import tokens

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# Headers http-backend may send that the server sets itself for a streamed answer.
_DROPPED = frozenset({"content-length", "transfer-encoding", "connection"})


@router.api_route(GIT_PREFIX + "/{path:path}", methods=["GET", "POST"])
async def git_remote(path: str, request: Request, deps: Deps, center: Center) -> Response:
    """One request of git's smart protocol on a service's hosted repository."""
    who = _principal(request, deps)
    call = parse_git_path(path, method=request.method, query=request.url.query)
    repos = HostedRepos(center.sources.hosted_dir)
    push = call.is_push and not call.advertisement
    plan = await asyncio.to_thread(
        pushes.prepare, deps, repos, who, team=call.team, service=call.service, push=push
    )  # fmt: skip
    length = _content_length(request)
    limit = center.sources.max_push_bytes
    if length is not None and length > limit:
        raise too_large(limit)
    timeout_s = center.sources.git_timeout_s
    deadline = anyio.current_time() + timeout_s
    backend = await Backend.start(_cgi_request(call, request, who, length), project_root=repos.root)
    try:
        with anyio.fail_after(timeout_s):  # a client that stops sending must not hold it
            await backend.feed(request.stream(), max_bytes=limit)
            head = await backend.head()
    except BaseException as exc:
        with anyio.CancelScope(shield=True):  # also when the request itself was cancelled
            await backend.close()
        if isinstance(exc, TimeoutError):
            raise _too_slow(call, timeout_s) from None
        raise
    settle = functools.partial(
        asyncio.to_thread, pushes.settle, deps, center, repos, who, plan
    )  # fmt: skip
    return _BackendResponse(
        backend, head, settle=settle if push else None, deadline=deadline, call=call
    )


class _BackendResponse(StreamingResponse):
    """http-backend's answer, streamed. However the response ends (sent, the client gone, or
    `deadline` passed), the child is killed if it still runs, and a push is settled exactly
    once."""

    def __init__(
        self,
        backend: Backend,
        head: CgiHead,
        *,
        settle: Callable[[], Awaitable[list[str]]] | None,
        deadline: float,
        call: GitCall,
    ) -> None:
        self._backend = backend
        self._deadline = deadline
        self._call = call
        self._settle = settle
        self._settled = False
        headers = {name: value for name, value in head.headers if name.lower() not in _DROPPED}
        super().__init__(self._body(), status_code=head.status, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with anyio.CancelScope(deadline=self._deadline) as scope_of_request:
                await super().__call__(scope, receive, send)
            if scope_of_request.cancelled_caught:
                call = self._call
                log.warning(
                    "git request team=%s service=%s rpc=%s passed DOCKYARD_GIT_TIMEOUT_S: "
                    "killed, answer cut off", call.team, call.service, call.rpc,
                )  # fmt: skip
        finally:
            with anyio.CancelScope(shield=True):  # the client may be gone: clean up anyway
                await self._backend.close()
                await self._settle_once()  # the branch may have moved before the client left

    async def _body(self) -> AsyncIterator[bytes]:
        tail = PushTail() if self._settle is not None else None
        async for chunk in self._backend.chunks():
            sent = chunk if tail is None else tail.feed(chunk)
            if sent:
                yield sent
        await self._backend.wait()
        if tail is not None:
            yield tail.end(await self._settle_once())

    async def _settle_once(self) -> list[str]:
        if self._settle is None or self._settled:
            return []
        self._settled = True
        return await self._settle()


def _principal(request: Request, deps: ApiDeps) -> Principal:
    token = token_of(request.headers.get("authorization"))
    if token is None:
        raise Unauthorized(
            "git remotes need a team token: give it as the password (any user name), e.g. "
            "with a credential helper or https://git:TOKEN@HOST/git/TEAM/SERVICE.git"
        )
    with deps.db.reading() as connection:
        return tokens.authenticate(connection, token, now=deps.clock())


def _too_slow(call: GitCall, timeout_s: float) -> Unavailable:
    return Unavailable(
        f"the git request on {call.team}/{call.service} ({call.rpc}) took longer than "
        f"{timeout_s:g} s (DOCKYARD_GIT_TIMEOUT_S) and was stopped; retry, or push fewer "
        "commits at a time"
    )


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


def _cgi_request(call: GitCall, request: Request, who: Principal, length: int | None) -> CgiRequest:
    headers = request.headers
    return CgiRequest(
        method=request.method,
        path_info=call.path_info,
        query=request.url.query,
        content_type=headers.get("content-type", ""),
        content_encoding=headers.get("content-encoding", ""),
        content_length=length,
        remote_user=who.actor,
        git_protocol=headers.get("git-protocol", "")[:256],
    )
