"""Which repositories on the server host a team may build from: the `file://` source policy.

A `file://` source makes the builder read a path on the server host, so a team could otherwise
name any repository there (another team's, the platform's own). A team's `file://` source must
lie under one of the configured source roots or be one of the team's own hosted repositories;
a source the admin set may name any path. http(s) sources are not the host's business here.

The policy is checked when a source is set (422) and again when a build starts (the build fails
with the same reason), since roots change and a source set earlier may no longer be allowed.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from urllib.parse import urlsplit

from dockyard.domain.errors import Invalid
from dockyard.images.config import SourceSettings


def file_path(url: str) -> str | None:
    """The absolute, normalised path a `file://` URL names; None for any other URL.

    Refuses (Invalid) what could name a path other than the one it seems to: a host part,
    percent-escapes, a relative path or `..` segments.
    """
    if not url.startswith("file://"):
        return None
    parts = urlsplit(url)
    path = parts.path
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment or "%" in url:
        raise Invalid(
            f"repo_url {url!r}: a file:// URL names a local path as file:///PATH "
            "(no host, no %-escapes, no ?query or #fragment)",
            field="repo_url",
        )
    if not path.startswith("/") or ".." in path.split("/"):
        raise Invalid(
            f"repo_url {url!r}: give the absolute path of the repository, without '..'",
            field="repo_url",
        )
    return posixpath.normpath(path)


def refusal(
    path: str, *, team: str, roots: Sequence[str], hosted_dir: str, trusted: bool
) -> str | None:
    """Why the team may not build from the (resolved) local `path`, or None if it may.

    `roots` and `hosted_dir` are resolved absolute paths; `trusted` means the admin set it.
    Hosted repositories are the team's own only, even if a root contains them.
    """
    if trusted:
        return None
    if _under(path, hosted_dir):
        if _under(path, posixpath.join(hosted_dir, team)):
            return None
        return f"{path} is another team's hosted repository; push to your own service's remote"
    if any(_under(path, root) for root in roots):
        return None
    allowed = ", ".join(roots) if roots else "none configured"
    return (
        f"a file:// source must lie under a source root ({allowed}; DOCKYARD_SOURCE_ROOTS) or "
        "be the team's hosted repository (`dockyard source set SVC --hosted`); "
        f"{path} is neither: push to the hosted repository, or ask the platform admin"
    )


def check_source(settings: SourceSettings, url: str, *, team: str, trusted: bool) -> None:
    """Raise Invalid (field repo_url) if `team` may not build from `url` on this host.

    Symbolic links are resolved first, so a link under a root cannot lead outside it.
    """
    path = file_path(url)
    if path is None:
        return
    why = refusal(
        os.path.realpath(path),
        team=team,
        roots=[os.path.realpath(root) for root in settings.roots],
        hosted_dir=os.path.realpath(settings.hosted_dir),
        trusted=trusted,
    )
    if why is not None:
        raise Invalid(why, field="repo_url")


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")
