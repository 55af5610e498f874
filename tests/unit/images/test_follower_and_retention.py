"""Two pure rules: what stable follows, and which images retention deletes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.domain.environment import Environment
from dockyard.images.follower import decide
from dockyard.images.retention import judge
from dockyard.store.images import ImageView
from dockyard.store.promotions import EnvFacts

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
REPO = "127.0.0.1:5000/shop/web"


def env(name: Environment, image: str | None, **changes: object) -> EnvFacts:
    found = EnvFacts(
        env=name, revision=4, image=image, replicas=1, created_by="x", created_at=NOW,
        phase="available", status_revision=4, available_since=NOW,
    )  # fmt: skip
    return replace(found, **changes)  # type: ignore[arg-type]


ONLINE, STABLE = Environment.ONLINE, Environment.STABLE


@pytest.mark.parametrize(
    ("source", "stable", "wanted"),
    [
        (env(ONLINE, f"{REPO}@{A}"), env(STABLE, None), f"{REPO}@{A}"),
        (env(ONLINE, f"{REPO}@{B}"), env(STABLE, f"{REPO}@{A}"), f"{REPO}@{B}"),
        (env(ONLINE, f"{REPO}@{A}"), env(STABLE, f"{REPO}@{A}"), None),  # already there
        (env(ONLINE, f"{REPO}@{B}", phase="progressing"), env(STABLE, f"{REPO}@{A}"), None),
        (env(ONLINE, f"{REPO}@{B}", status_revision=3), env(STABLE, f"{REPO}@{A}"), None),
        (env(ONLINE, "shop/web:1"), env(STABLE, None), None),  # not a digest: nothing to follow
        (env(ONLINE, None), env(STABLE, f"{REPO}@{A}"), None),
    ],
)
def test_stable_takes_a_new_digest_once_its_source_runs_it_healthy(
    source: EnvFacts, stable: EnvFacts, wanted: str | None
) -> None:
    assert decide(source, stable) == wanted


def image(digest: str, *, age_s: float, image_id: int = 1) -> ImageView:
    return ImageView(
        id=image_id, team="shop", service="web", repository=REPO, digest=digest, tag="t",
        commit="c", author="a", message="m", committed_at=None, size_bytes=10, build_number=1,
        duration_s=1.0, created_at=NOW - timedelta(seconds=age_s), deleted_at=None,
    )  # fmt: skip


def test_retention_keeps_what_recent_revisions_run_and_young_images() -> None:
    verdicts = judge(
        [(7, image(A, age_s=10_000)), (7, image(B, age_s=10_000)), (8, image(A, age_s=10))],
        in_use={7: {f"{REPO}@{A}", "shop/web:1"}},
        now=NOW,
        min_age_s=3600,
    )
    assert [(v.image.digest, v.keep) for v in verdicts] == [(A, True), (B, False), (A, True)]
    assert verdicts[1].why == "no recent revision runs it"
    assert verdicts[2].why.startswith("built 10 s ago")


def test_an_image_used_by_another_service_does_not_keep_this_one() -> None:
    (verdict,) = judge(
        [(7, image(A, age_s=10_000))], in_use={8: {f"{REPO}@{A}"}}, now=NOW, min_age_s=0
    )
    assert verdict.keep is False
