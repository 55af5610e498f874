"""What the image center's routes need from the server, installed on the app once.

Separate from ApiDeps so an API built without the image center (tests of other parts) still
works: its deploys pin nothing, and the image center's own routes answer 503.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request

from dockyard.domain.errors import Unavailable
from dockyard.images.build_events import BuildEvents
from dockyard.images.config import RetentionSettings, SourceSettings
from dockyard.images.pinning import ImagePinner
from dockyard.images.registry import RegistryClient


@dataclass(frozen=True)
class ImageCenter:
    registry: RegistryClient
    """The registry images are pushed to and pinned from."""
    pinner: ImagePinner
    """Pins every deployed image to a digest (`dockyard.images.pinning` says how)."""
    wake_builder: Callable[[], None]
    """Called after a build request is committed, so the builder starts it at once."""
    retention: RetentionSettings
    build_events: BuildEvents | None = None
    """The builder's events, when it runs in this process: log followers wake at once."""
    sources: SourceSettings = field(default_factory=SourceSettings)
    """Where file:// sources may live, and the hosted git repositories (`images.sources`)."""


def install_image_center(app: FastAPI, center: ImageCenter) -> None:
    """Serve the image center's routes (and pin deploys) with `center`."""
    app.state.image_center = center


async def image_center(request: Request) -> ImageCenter:
    found = getattr(request.app.state, "image_center", None)
    if found is None:
        raise Unavailable("the image center does not run in this server; ask the platform team")
    return cast(ImageCenter, found)


async def optional_pinner(request: Request) -> ImagePinner | None:
    found = getattr(request.app.state, "image_center", None)
    return None if found is None else cast(ImageCenter, found).pinner


Center = Annotated[ImageCenter, Depends(image_center)]
"""Route parameter type: the image center of this app."""

Pinner = Annotated[ImagePinner | None, Depends(optional_pinner)]
"""Route parameter type: the pinner, or None when this app runs without the image center."""
