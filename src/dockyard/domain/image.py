"""Image references: parsed and checked once, so a malformed one never reaches a runtime."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.domain.errors import Invalid

# The distribution reference grammar, trimmed to what Dockyard accepts:
# [host[:port]/]path-component(/path-component)*[:tag][@sha256:<64 hex>]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """A checked image reference. `digest` pins content; `tag` is a movable name."""

    name: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(value: str, *, field: str = "image") -> ImageRef:
    """Parse `value` or raise Invalid saying what a reference looks like."""
    if not isinstance(value, str) or len(value) > 255:
        raise Invalid(f"{field} must be an image reference of at most 255 characters", field=field)
    match = _REFERENCE.match(value)
    if not match:
        raise Invalid(
            f"{field} {value!r} is not a valid image reference: expected "
            "[registry/]name[:tag][@sha256:<64 hex digits>], lowercase name, e.g. team/web:1.2",
            field=field,
        )
    host = match.group("host")
    # Without a '.', ':' or 'localhost' the first component is a path, not a registry host.
    if host and not ("." in host or ":" in host or host == "localhost" or host.startswith("[")):
        name = f"{host}/{match.group('path')}"
        if host != host.lower():
            raise Invalid(f"{field} {value!r}: repository names must be lowercase", field=field)
    else:
        name = f"{host}/{match.group('path')}" if host else match.group("path")
    tag = match.group("tag")
    digest = match.group("digest")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(name=name, tag=tag, digest=digest)
