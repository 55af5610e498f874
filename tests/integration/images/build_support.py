"""Helpers for the build tests: ask for a build and follow its log to the end, as a client."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.images.conftest import Center


def set_source(center: Center, url: str, **extra: str) -> None:
    answer = center.client.put(
        center.service() + "/source", json={"repo_url": url, **extra}, headers=center.ci
    )
    assert answer.status_code == 200, answer.text


def build(center: Center, *, timeout_s: float = 120, **body: Any) -> tuple[dict[str, Any], str]:
    """Request a build, follow its log until it ends; (the finished build, its whole log)."""
    answer = center.client.post(center.service() + "/builds", json=body, headers=center.ci)
    assert answer.status_code == 202, answer.text
    number = answer.json()["number"]
    return follow(center, number, timeout_s=timeout_s)


def follow(center: Center, number: int, *, timeout_s: float = 120) -> tuple[dict[str, Any], str]:
    log, offset = "", 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = center.client.get(
            f"{center.service()}/builds/{number}/log",
            params={"after": offset, "wait": 5},
            headers=center.ci,
        ).json()
        log += page["text"]
        offset = page["next"]
        if page["done"]:
            found = center.client.get(f"{center.service()}/builds/{number}", headers=center.ci)
            # The page that ends the log carries the finished build, as the build itself reads.
            assert page["build"] == found.json()
            return page["build"], log
        assert page["build"] is None
    raise AssertionError(f"build {number} did not finish in {timeout_s} s; log so far:\n{log}")
