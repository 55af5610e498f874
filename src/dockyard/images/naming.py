"""How images are named and labelled. Pure.

A service's images live at REGISTRY/TEAM/SERVICE, tagged with the commit's short id; releases
name them by digest (`REGISTRY/TEAM/SERVICE@sha256:...`). Each carries the OCI annotations
source, revision and created. `created` is the commit's time, not the wall clock: a rebuild of
an unchanged commit with a warm cache then yields the very same image (and digest).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from dockyard.domain.image import parse_image

SHORT = 12
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_CREATED = "org.opencontainers.image.created"
LABEL_TITLE = "org.opencontainers.image.title"
LABEL_TEAM = "io.dockyard.team"
LABEL_SERVICE = "io.dockyard.service"


def repository(address: str, *, team: str, service: str) -> str:
    return f"{address}/{team}/{service}"


def short(sha: str) -> str:
    return sha[:SHORT]


def public_url(url: str) -> str:
    """`url` without any user or password in it (they must never reach an image label)."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def oci_labels(
    *, source_url: str, commit: str, created: str, team: str, service: str
) -> dict[str, str]:
    return {
        LABEL_SOURCE: public_url(source_url),
        LABEL_REVISION: commit,
        LABEL_CREATED: created,
        LABEL_TITLE: service,
        LABEL_TEAM: team,
        LABEL_SERVICE: service,
    }


def split_registry(image: str) -> tuple[str | None, str]:
    """(registry host or None, repository path) of an image reference's name."""
    name = parse_image(image).name
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first, rest
    return None, name


def digest_of(image: str) -> str | None:
    """The digest an image reference pins, if it pins one."""
    return parse_image(image).digest
