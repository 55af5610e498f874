"""What the agent's log part makes of an inspected container, and of Docker's max-size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.logs import followed_of, size_bytes
from dockyard.domain.environment import Environment
from dockyard.logs.record import Source

SIZES = [("10m", 10 << 20), ("1k", 1024), ("512", 512), ("2g", 2 << 30), ("1.5M", 3 << 19),
         ("", 0), ("lots", 0), ("10mb", 10 << 20)]  # fmt: skip


@pytest.mark.parametrize(("text", "want"), SIZES)
def test_size_bytes_reads_docker_sizes(text: str, want: int) -> None:
    assert size_bytes(text) == want


LABELS = {
    "io.dockyard.managed": "true", "io.dockyard.team": "pay", "io.dockyard.service": "api",
    "io.dockyard.env": "test", "io.dockyard.revision": "3", "io.dockyard.instance": "i9",
    "io.dockyard.template": "abc",
}  # fmt: skip


def inspected(*, labels: dict[str, str] = LABELS, log_path: str = "/d/c-json.log",
              driver: str = "json-file", max_size: str = "10m") -> dict[str, Any]:  # fmt: skip
    return {
        "Config": {"Labels": labels},
        "LogPath": log_path,
        "HostConfig": {"LogConfig": {"Type": driver, "Config": {"max-size": max_size}}},
    }


def test_a_dockyard_container_is_followed_by_its_log_path() -> None:
    followed = followed_of(inspected(), host="h1")
    assert followed is not None
    assert followed.source == Source("pay", "api", Environment.TEST, "i9", host="h1")
    assert (followed.path, followed.rotate_bytes) == (Path("/d/c-json.log"), 10 << 20)


@pytest.mark.parametrize(
    "info",
    [
        inspected(labels={"io.dockyard.managed": "true"}),
        inspected(log_path=""),
        inspected(driver="journald"),
    ],
    ids=["labels missing", "never started: no log path", "another log driver"],
)
def test_what_cannot_be_followed_is_left_alone(info: dict[str, Any]) -> None:
    assert followed_of(info, host="h1") is None
