"""Fixtures shared by every suite. Each area keeps its fixtures in tests/support/<area>.py;
import them here so tests find them by name."""

from tests.support.etcd import etcd_server, own_etcd
from tests.support.fixtures import (
    docker_engine,
    docker_runtime,
    docker_team,
    team,
    test_image,
)
from tests.support.registry import registry

__all__ = [
    "docker_engine",
    "docker_runtime",
    "docker_team",
    "etcd_server",
    "own_etcd",
    "registry",
    "team",
    "test_image",
]
