"""Fixtures shared by every suite. Each area keeps its fixtures in tests/support/<area>.py;
import them here so tests find them by name."""

from tests.support.fixtures import (
    docker_engine,
    docker_runtime,
    docker_team,
    team,
    test_image,
)

__all__ = ["docker_engine", "docker_runtime", "docker_team", "team", "test_image"]
