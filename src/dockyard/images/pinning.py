"""Pinning the image a release runs to a digest, once, when the release is asked for.

The rule, one line per kind of reference:
- an image of Dockyard's registry given by tag is looked up there and recorded as
  `name@sha256:...`; given by digest, the registry must hold that digest;
- an image naming another registry is refused: Dockyard deploys what its registry holds;
- a name without a registry host (`team/web:1`) is an image of the local engine, built or
  loaded there by hand: deployed as written (development only; promotion needs a digest).

An unknown tag or digest is refused with Invalid (422) before any revision exists, so no
container is ever started for it.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.domain.errors import Invalid
from dockyard.domain.image import parse_image
from dockyard.images.naming import split_registry


class Registry(Protocol):
    url: str

    def digest(self, repository: str, reference: str) -> str | None: ...


class ImagePinner:
    """Pins references to the registry at `address` (host:port) through `registry`."""

    def __init__(self, registry: Registry, *, address: str) -> None:
        self._registry = registry
        self._address = address

    @property
    def address(self) -> str:
        return self._address

    def pin(self, image: str) -> str:
        """`image` pinned by digest, or as written for a local engine image; Invalid if the
        registry does not hold it or it names another registry; Unavailable if the registry
        does not answer."""
        ref = parse_image(image)
        host, path = split_registry(image)
        if host is None:
            return image
        if host != self._address:
            raise Invalid(
                f"image {image} names the registry {host}, but Dockyard deploys from its own "
                f"registry {self._address} (or images of the local engine): push it there",
                field="image",
            )
        reference = ref.digest or ref.tag or "latest"
        found = self._registry.digest(path, reference)
        if found is None:
            what = "digest" if ref.digest else "tag"
            service = path.rsplit("/", 1)[-1]
            raise Invalid(
                f"image {image}: the registry {self._address} has no such {what}; "
                f"`dockyard images list {service}` lists what was built",
                field="image",
            )
        return f"{ref.name}@{found}"
