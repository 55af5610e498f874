"""A real registry (Debian's docker-registry) for the tests: one per test session, on a free
loopback port, configured by Dockyard's own generator, stopped by its PID at the end.

The engine allows plain HTTP to 127.0.0.0/8, so the shared engine pushes to it and pulls from
it without any daemon configuration. Images the engine holds under the registry's address are
removed at the end too: the address (with its random port) is this session's alone.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import httpx
import pytest
from docker.errors import APIError

from dockyard.images.config import RegistrySettings
from dockyard.images.registry import RegistryClient
from dockyard.images.registry_config import registry_environment, write_config
from tests.support.child import ChildProcess, wait_until
from tests.support.server import free_port

BINARY = "/usr/bin/docker-registry"


@dataclass
class RunningRegistry:
    settings: RegistrySettings
    child: ChildProcess | None = None

    @property
    def address(self) -> str:
        return self.settings.address

    @property
    def log_file(self) -> Path:
        return self.settings.root / "registry.log"

    def client(self) -> RegistryClient:
        return RegistryClient(self.settings.url)

    def start(self, *, read_only: bool = False, timeout_s: float = 15.0) -> None:
        config = write_config(self.settings, read_only=read_only)
        self.child = ChildProcess([BINARY, "serve", str(config)], log_file=self.log_file)
        self.child.start(env=registry_environment(dict(os.environ)))
        try:
            wait_until(
                self._answers, children=[self.child], what="docker-registry", timeout_s=timeout_s
            )
        except RuntimeError:
            self.child.stop()  # it started but never answered: it goes with the failure
            raise

    def _answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.settings.url}/v2/", timeout=1).status_code == 200
        return False

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

    def log_tail(self, lines: int = 20) -> str:
        return self.child.log_tail(lines) if self.child is not None else ""


def start_registry(root: Path) -> RunningRegistry:
    """A registry with filesystem storage under `root`, answering on a free loopback port."""
    if not os.access(BINARY, os.X_OK):
        raise FileNotFoundError(f"{BINARY} is missing: apt-get install docker-registry")
    settings = replace(RegistrySettings(), address=f"127.0.0.1:{free_port()}", root=root)
    registry = RunningRegistry(settings)
    registry.start()
    return registry


def remove_engine_images(client: docker.APIClient, address: str) -> None:
    """Remove every engine image named under `address` (its tags and digests), a few at once."""
    names = [
        name
        for image in client.images()
        for name in [*(image.get("RepoTags") or ()), *(image.get("RepoDigests") or ())]
        if name.startswith(address + "/")
    ]

    def remove(name: str) -> None:
        with contextlib.suppress(APIError):
            client.remove_image(name, noprune=False)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(remove, names))


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A real registry for this test session; its images leave the engine with it."""
    if shutil.which("docker-registry") is None and not os.access(BINARY, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("CI must run the registry tests: apt-get install docker-registry")
        pytest.skip("docker-registry is not installed")
    running = start_registry(tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()
    with contextlib.suppress(docker.errors.DockerException):
        client = docker.APIClient(version="auto")
        remove_engine_images(client, running.address)
        client.close()
