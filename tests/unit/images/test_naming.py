"""Image names and labels."""

from __future__ import annotations

import pytest

from dockyard.images import naming


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://ci:secret@git.internal/web.git", "https://git.internal/web.git"),
        ("https://token@git.internal:8443/web.git", "https://git.internal:8443/web.git"),
        ("file:///srv/web.git", "file:///srv/web.git"),
    ],
)
def test_credentials_never_reach_a_label(url: str, public: str) -> None:
    assert naming.public_url(url) == public
    labels = naming.oci_labels(source_url=url, commit="c", created="t", team="a", service="b")
    assert labels[naming.LABEL_SOURCE] == public


@pytest.mark.parametrize(
    ("image", "split"),
    [
        ("127.0.0.1:5000/shop/web:abc", ("127.0.0.1:5000", "shop/web")),
        ("localhost/shop/web", ("localhost", "shop/web")),
        ("registry.example.com/web@sha256:" + "a" * 64, ("registry.example.com", "web")),
        ("shop/web:1", (None, "shop/web")),
        ("busybox", (None, "busybox")),
    ],
)
def test_a_reference_splits_into_registry_and_path(
    image: str, split: tuple[str | None, str]
) -> None:
    assert naming.split_registry(image) == split


def test_the_digest_is_read_off_a_pinned_reference() -> None:
    digest = "sha256:" + "b" * 64
    assert naming.digest_of(f"r:5000/a/b@{digest}") == digest
    assert naming.digest_of("r:5000/a/b:1") is None
