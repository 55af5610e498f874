"""The kept build contexts: one per service, found only under the very same key."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dockyard.domain.source import GitSource
from dockyard.images.context_cache import ContextCache, context_key

SHA = "a" * 40
LABELS = {"org.opencontainers.image.revision": SHA}


@pytest.mark.parametrize(
    ("sha", "source", "labels", "same"),
    [
        (SHA, GitSource("file:///r"), LABELS, True),  # the URL is not part of the context
        ("b" * 40, GitSource("file:///r"), LABELS, False),
        (SHA, GitSource("file:///r", context="app"), LABELS, False),
        (SHA, GitSource("file:///r", dockerfile="Dockerfile.prod"), LABELS, False),
        (SHA, GitSource("file:///r"), {**LABELS, "x": "y"}, False),
    ],
)
def test_the_key_is_what_makes_the_context(
    sha: str, source: GitSource, labels: dict[str, str], same: bool
) -> None:
    base = context_key(SHA, GitSource("file:///other"), LABELS)
    assert (context_key(sha, source, labels) == base) is same


def _tar(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_kept_context_is_linked_to_the_build_and_survives_its_removal(tmp_path: Path) -> None:
    cache = ContextCache(tmp_path / "kept")
    assert cache.take(7, "k1", into=tmp_path / "1.tar") is None
    cache.keep(7, "k1", _tar(tmp_path / "1.tar", b"one"))
    (tmp_path / "1.tar").unlink()  # the first build ends
    os.utime(cache.take(7, "k1", into=tmp_path / "old.tar") or tmp_path, (0, 0))
    taken = cache.take(7, "k1", into=tmp_path / "2.tar")
    assert taken == tmp_path / "2.tar" and taken.read_bytes() == b"one"
    assert time.time() - taken.stat().st_mtime < 60  # as young as a fresh export
    taken.unlink()  # the second build ends: the kept one stays
    assert cache.take(7, "k1", into=tmp_path / "3.tar") is not None
    assert cache.take(7, "k2", into=tmp_path / "4.tar") is None
    assert cache.take(8, "k1", into=tmp_path / "5.tar") is None


def test_one_context_per_service_is_kept_and_a_reader_keeps_its_own(tmp_path: Path) -> None:
    cache = ContextCache(tmp_path / "kept")
    cache.keep(7, "k1", _tar(tmp_path / "1.tar", b"one"))
    cache.keep(9, "k9", _tar(tmp_path / "9.tar", b"nine"))
    reading = cache.take(7, "k1", into=tmp_path / "r.tar")
    cache.keep(7, "k2", _tar(tmp_path / "2.tar", b"two"))
    cache.keep(7, "k2", tmp_path / "2.tar")  # kept already: nothing changes
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["7-k2.tar", "9-k9.tar"]
    assert reading is not None and reading.read_bytes() == b"one"  # its own link
    assert cache.take(7, "k1", into=tmp_path / "x.tar") is None


def test_a_large_context_is_not_kept_and_a_leftover_link_is_replaced(tmp_path: Path) -> None:
    cache = ContextCache(tmp_path / "kept", max_bytes=3)
    cache.keep(7, "big", _tar(tmp_path / "1.tar", b"four"))
    assert cache.take(7, "big", into=tmp_path / "2.tar") is None
    cache.keep(7, "small", _tar(tmp_path / "3.tar", b"abc"))
    _tar(tmp_path / "4.tar", b"a crashed build's leftover")
    taken = cache.take(7, "small", into=tmp_path / "4.tar")
    assert taken is not None and taken.read_bytes() == b"abc"
