"""Where a service's images come from: a git repository, the branch it builds by default, and
the Dockerfile and build context inside it. Checked once, on construction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from dockyard.domain.errors import Invalid

SCHEMES = ("file://", "http://", "https://")
MAX_URL = 1024
# git check-ref-format, trimmed: no spaces, control characters, '..', '~^:?*[\\', no '@{'.
_REF = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*\.lock$)[^\s~^:?*\[\\]{1,255}(?<![/.])$")
_SHA = re.compile(r"^[0-9a-f]{4,40}$")


def check_ref(value: str, *, field: str = "ref") -> str:
    """A branch, tag or (abbreviated) commit name git would accept; else Invalid."""
    if not isinstance(value, str) or not _REF.match(value) or value.startswith("-"):
        raise Invalid(
            f"{field} {value!r} is not a git ref: give a branch (main), a tag (v1.2) or a "
            "commit (at least 4 hex digits)",
            field=field,
        )
    return value


def looks_like_commit(ref: str) -> bool:
    return bool(_SHA.match(ref))


def _relative(value: str, *, field: str, directory: bool) -> str:
    path = PurePosixPath(value)
    if (
        not value
        or len(value) > 255
        or path.is_absolute()
        or ".." in path.parts
        or "\\" in value
        or any(ord(ch) < 32 for ch in value)
    ):
        what = "a directory" if directory else "a file"
        raise Invalid(
            f"{field} {value!r} must name {what} inside the repository by a relative path "
            "without '..', e.g. " + ("services/web" if directory else "docker/Dockerfile"),
            field=field,
        )
    return str(path)


@dataclass(frozen=True)
class GitSource:
    """A service's source. `context` is the build context's directory in the repository and
    `dockerfile` the Dockerfile's path inside that context."""

    repo_url: str
    branch: str = "main"
    dockerfile: str = "Dockerfile"
    context: str = "."

    def __post_init__(self) -> None:
        url = self.repo_url
        if (
            not isinstance(url, str)
            or not url.startswith(SCHEMES)
            or len(url) > MAX_URL
            or len(url) <= len("file://")
            or any(ch.isspace() or ord(ch) < 32 for ch in url)
        ):
            raise Invalid(
                f"repo_url {url!r} must be a git URL starting with file://, http:// or https://",
                field="repo_url",
            )
        check_ref(self.branch, field="branch")
        object.__setattr__(
            self, "dockerfile", _relative(self.dockerfile, field="dockerfile", directory=False)
        )
        object.__setattr__(
            self, "context", _relative(self.context, field="context", directory=True)
        )
