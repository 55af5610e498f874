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
from tests.support.nats import nats_server, own_nats
from tests.support.registry import registry
from tests.support.s3 import s3_server
from tests.support.swift import swift_server

__all__ = [
    "docker_engine",
    "docker_runtime",
    "docker_team",
    "etcd_server",
    "nats_server",
    "own_etcd",
    "own_nats",
    "registry",
    "s3_server",
    "swift_server",
    "team",
    "test_image",
]
