"""The pinning rule, against a registry that knows one tag and its digest."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.images.pinning import ImagePinner

ADDRESS = "127.0.0.1:5000"
DIGEST = "sha256:" + "c" * 64


class OneImage:
    """A registry holding shop/web:v1 = DIGEST, nothing else."""

    url = f"http://{ADDRESS}"

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def digest(self, repository: str, reference: str) -> str | None:
        self.asked.append((repository, reference))
        known = repository == "shop/web" and reference in ("v1", DIGEST)
        return DIGEST if known else None


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        (f"{ADDRESS}/shop/web:v1", f"{ADDRESS}/shop/web@{DIGEST}"),
        (f"{ADDRESS}/shop/web@{DIGEST}", f"{ADDRESS}/shop/web@{DIGEST}"),
        (f"{ADDRESS}/shop/web:old@{DIGEST}", f"{ADDRESS}/shop/web@{DIGEST}"),
        ("shop/web:v1", "shop/web:v1"),
        ("busybox", "busybox"),
    ],
)
def test_references_are_pinned_or_kept_by_the_rule(image: str, pinned: str) -> None:
    assert ImagePinner(OneImage(), address=ADDRESS).pin(image) == pinned


def test_a_local_image_is_never_looked_up() -> None:
    registry = OneImage()
    ImagePinner(registry, address=ADDRESS).pin("shop/web:v1")
    assert registry.asked == []


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (f"{ADDRESS}/shop/web:v2", "no such tag"),
        (f"{ADDRESS}/shop/web", "no such tag"),  # :latest
        (f"{ADDRESS}/shop/web@sha256:" + "d" * 64, "no such digest"),
        ("127.0.0.1:5001/shop/web:v1", "deploys from its own registry"),
        ("not a reference", "not a valid image reference"),
    ],
)
def test_what_the_registry_lacks_is_invalid(image: str, why: str) -> None:
    with pytest.raises(Invalid, match=why):
        ImagePinner(OneImage(), address=ADDRESS).pin(image)
