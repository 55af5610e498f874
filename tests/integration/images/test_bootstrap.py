"""`dockyard images bootstrap`: base images made here, pushed to the registry, skipped when the
registry already holds the same content."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from dockyard.images.bootstrap import CONTENT_LABEL, NAMESPACE, Bootstrap
from dockyard.images.engine import Engine
from tests.support.image_center import DOCKER_HOST
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.docker


@pytest.fixture
def maker(registry: RunningRegistry, tmp_path: Path) -> Bootstrap:
    return Bootstrap(
        engine=Engine(DOCKER_HOST),
        registry=registry.client(),
        address=registry.address,
        work_dir=tmp_path,
    )


def _run(engine: docker.APIClient, image: str, command: list[str]) -> str:
    container = engine.create_container(image, command=command)
    try:
        engine.start(container)
        engine.wait(container, timeout=60)
        return str(engine.logs(container).decode())
    finally:
        engine.remove_container(container, force=True)


def test_the_busybox_base_is_pushed_once_and_then_skipped(
    maker: Bootstrap, docker_engine: docker.APIClient
) -> None:
    first = maker.busybox(say=lambda _: None, force=True)
    assert not first.skipped
    labels = maker.registry.labels(f"{NAMESPACE}/busybox", "latest")
    assert labels is not None and CONTENT_LABEL in labels
    started = time.monotonic()
    again = maker.busybox(say=lambda _: None)
    assert again.skipped and time.monotonic() - started < 1.0
    assert _run(docker_engine, first.reference, ["sh", "-c", "echo hello from $0"]).strip() == (
        "hello from sh"
    )


@pytest.mark.slow
def test_the_debian_python_base_runs_python_and_is_then_skipped(
    maker: Bootstrap, docker_engine: docker.APIClient
) -> None:
    # debootstrap from the Debian mirror: about a minute and ~260 MB (see README).
    made = maker.debian_python(say=lambda _: None, force=True)
    assert not made.skipped
    out = _run(docker_engine, made.reference, ["python3", "-c", "import sys; print(sys.version)"])
    assert out.startswith("3.11")
    again = maker.debian_python(say=lambda _: None)
    assert again.skipped and again.seconds < 1.0
