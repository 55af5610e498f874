"""An S3-compatible object store for the tests: moto's server (PyPI `moto[server]`, a test
dependency) in its own process on a free loopback port, one per test session, stopped by PID.

moto implements the S3 REST API (signature v4, path-style addressing, multipart uploads,
presigned URLs), which is all distribution's `s3` storage driver uses. It keeps objects in
memory: fine for a test session, not a store for anything else.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.child import ChildProcess, wait_until
from tests.support.server import free_port

START_TIMEOUT_S = 20.0
REGION = "us-east-1"


@dataclass
class RunningS3:
    """moto's S3 at `endpoint`; any access key works, these are the ones the tests use."""

    endpoint: str
    child: ChildProcess
    access_key: str = "dockyard-test"
    secret_key: str = "dockyard-test-secret"  # moto accepts any key

    def client(self) -> Any:
        """A boto3 S3 client of this store (boto3 comes with moto)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def size(self, bucket: str, key: str) -> int:
        return int(self.client().head_object(Bucket=bucket, Key=key)["ContentLength"])

    def objects(self, bucket: str) -> dict[str, int]:
        """Every object in `bucket`: key -> size in bytes (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {
            item["Key"]: int(item["Size"]) for page in pages for item in page.get("Contents", ())
        }


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=1).status_code == 200
    return False


def start_s3(root: Path) -> RunningS3:
    """moto's server on a free loopback port, its log under `root`; returns once it answers."""
    port = free_port()
    child = ChildProcess(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log_file=root / "moto.log",
    )
    # moto would otherwise use the caller's AWS settings (a CA bundle, a profile) for nothing.
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    child.start(env=env)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: _answers(f"{endpoint}/moto-api/"),
            children=[child],
            what="moto's S3 server",
            timeout_s=START_TIMEOUT_S,
        )
    except BaseException:
        child.stop()
        raise
    return RunningS3(endpoint=endpoint, child=child)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningS3]:
    """moto's S3 for this session; skips (fails on CI) when moto is not installed."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must run the S3 tests: install the dev extras (./run tests does)")
        pytest.skip("moto[server] is not installed: pip install -e '.[dev]'")
    running = start_s3(tmp_path_factory.mktemp("s3"))
    yield running
    running.child.stop()
