"""What a request to a hosted git remote asks for, and with which token: pure parsing.

Only git's smart protocol is served: `GET .../info/refs?service=git-upload-pack` (or
`git-receive-pack`) and `POST .../git-upload-pack` (or `git-receive-pack`), under
`/git/TEAM/SERVICE.git` (the `.git` may be left out). Anything else is NotFound.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import parse_qs

from dockyard.domain.errors import Invalid, NotFound
from dockyard.domain.ids import check_name

UPLOAD = "git-upload-pack"
RECEIVE = "git-receive-pack"
_SERVICES = (UPLOAD, RECEIVE)


@dataclass(frozen=True)
class GitCall:
    team: str
    service: str
    rpc: str
    """`git-upload-pack` (clone, fetch) or `git-receive-pack` (push)."""
    advertisement: bool
    """True for `GET info/refs` (the refs on offer), False for the exchange itself (POST)."""

    @property
    def path_info(self) -> str:
        """The path under the hosted repositories' root, as http-backend wants it."""
        tail = "info/refs" if self.advertisement else self.rpc
        return f"/{self.team}/{self.service}.git/{tail}"

    @property
    def is_push(self) -> bool:
        return self.rpc == RECEIVE


def parse_git_path(path: str, *, method: str, query: str) -> GitCall:
    """The call `method path?query` (path without the `/git/` prefix) makes; NotFound for
    anything but the smart protocol's three requests on a well-formed TEAM/SERVICE."""
    parts = path.split("/")
    if len(parts) < 3:
        raise _not_found(path)
    team, repo, rest = parts[0], parts[1], "/".join(parts[2:])
    service = repo.removesuffix(".git")
    try:
        check_name(team, field="team")
        check_name(service, field="service")
    except Invalid:
        raise _not_found(path) from None
    if method == "GET" and rest == "info/refs":
        wanted = parse_qs(query).get("service", [])
        if len(wanted) != 1 or wanted[0] not in _SERVICES:
            raise NotFound(
                "only git's smart HTTP protocol is served: use git 1.6.6 or newer "
                "(info/refs?service=git-upload-pack or git-receive-pack)"
            )
        return GitCall(team=team, service=service, rpc=wanted[0], advertisement=True)
    if method == "POST" and rest in _SERVICES:
        return GitCall(team=team, service=service, rpc=rest, advertisement=False)
    raise _not_found(path)


def token_of(authorization: str | None) -> str | None:
    """The token in an Authorization header: the password of Basic credentials (any user
    name; a token given as the user name with no password counts too) or a Bearer token."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return password or user or None


def _not_found(path: str) -> NotFound:
    return NotFound(
        f"no git remote at /git/{path[:200]}: a service's remote is /git/TEAM/SERVICE.git "
        "(`dockyard source show SVC` prints it)"
    )
