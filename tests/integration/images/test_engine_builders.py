"""Both of the engine's builders through `Engine.build`, on the real engine: BuildKit (the
default) and the classic builder build the same Dockerfile to an image with its labels, log
their steps and a RUN step's output as they go, and fail a failing step with the engine's
own words."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from pathlib import Path

import docker
import pytest

from dockyard.images.engine import Engine, EngineError
from tests.support.image_center import DOCKER_HOST
from tests.support.registry import RunningRegistry

FIRST_STEP = {True: "#4 [1/3] FROM", False: "Step 1/4 : FROM"}
"""How each builder logs the Dockerfile's first step."""


def _context(path: Path, dockerfile: str) -> Path:
    page = f"<p>{secrets.token_hex(8)}</p>\n"  # a fresh layer: nothing of it is cached
    with tarfile.open(path, "w") as tar:
        for name, text in {"Dockerfile": dockerfile, "www/index.html": page}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("buildkit", [True, False], ids=["buildkit", "classic"])
def test_a_build_logs_its_steps_and_labels_its_image(
    buildkit: bool, tmp_path: Path, docker_engine: docker.APIClient, test_image: str
) -> None:
    run = "RUN echo made-by-run; wc -c /www/index.html"
    dockerfile = f"FROM {test_image}\nCOPY www/ /www/\n{run}\n"
    context = _context(tmp_path / "context.tar", dockerfile)
    tag = f"dockyard-test/builders:{secrets.token_hex(4)}"
    lines: list[str] = []
    engine = Engine(DOCKER_HOST, buildkit=buildkit)
    try:
        image_id = engine.build(
            context, dockerfile="Dockerfile", tag=tag, on_line=lines.append,
            deadline=time.monotonic() + 120, labels={"org.example.kind": "test"},
        )  # fmt: skip
        log = "".join(lines)
        assert FIRST_STEP[buildkit] in log, log
        assert "made-by-run" in log  # the RUN step's output, as it ran
        found = docker_engine.inspect_image(tag)
        assert found["Id"] == image_id
        assert found["Config"]["Labels"]["org.example.kind"] == "test"
    finally:
        docker_engine.remove_image(tag, force=True)


@pytest.mark.parametrize("buildkit", [True, False], ids=["buildkit", "classic"])
def test_a_failing_step_fails_the_build_with_the_engines_words(
    buildkit: bool, tmp_path: Path, test_image: str
) -> None:
    context = _context(tmp_path / "context.tar", f"FROM {test_image}\nRUN exit 5\n")
    lines: list[str] = []
    engine = Engine(DOCKER_HOST, buildkit=buildkit)
    with pytest.raises(EngineError, match=r"^the build failed: .*exit 5.*") as failed:
        engine.build(
            context, dockerfile="Dockerfile", tag="dockyard-test/builders:failing",
            on_line=lines.append, deadline=time.monotonic() + 120,
        )  # fmt: skip
    assert "ERROR" in "".join(lines), failed.value


@pytest.mark.parametrize("buildkit", [True, False], ids=["buildkit", "classic"])
def test_a_base_image_only_the_registry_holds_is_pulled_from_it(
    buildkit: bool,
    tmp_path: Path,
    docker_engine: docker.APIClient,
    test_image: str,
    registry: RunningRegistry,
) -> None:
    """As a service's FROM names a base image `dockyard images bootstrap` pushed from another
    host: the engine pulls it from Dockyard's registry (plain HTTP on loopback)."""
    base = f"{registry.address}/basetest/busybox"
    tag = secrets.token_hex(4)
    docker_engine.tag(test_image, base, tag)
    for chunk in docker_engine.push(base, tag=tag, stream=True, decode=True):
        assert "error" not in chunk, chunk
    docker_engine.remove_image(f"{base}:{tag}")  # the engine no longer has it by this name
    context = _context(tmp_path / "context.tar", f"FROM {base}:{tag}\nCOPY www/ /www/\n")
    built = f"dockyard-test/builders:{secrets.token_hex(4)}"
    try:
        Engine(DOCKER_HOST, buildkit=buildkit).build(
            context, dockerfile="Dockerfile", tag=built, on_line=lambda _line: None,
            deadline=time.monotonic() + 120,
        )  # fmt: skip
        layers = docker_engine.inspect_image(built)["RootFS"]["Layers"]
        base_layers = docker_engine.inspect_image(test_image)["RootFS"]["Layers"]
        assert layers[: len(base_layers)] == base_layers and len(layers) > len(base_layers)
    finally:
        docker_engine.remove_image(built, force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_engine.remove_image(f"{base}:{tag}", force=True)
