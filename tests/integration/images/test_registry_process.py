"""The registry `dockyard up` runs: started once and recorded, garbage-collected read-only,
writable again afterwards, stopped by `down` (the real docker-registry, on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.cli.errors import CliError
from dockyard.cli.registry import (
    collect_garbage,
    ensure_registry,
    registry_process,
    stop_registry,
)
from dockyard.cli.supervisord import Supervisord, SupervisordPaths
from dockyard.images.registry import RegistryClient
from dockyard.settings import Settings
from tests.support.registry import remove_engine_images
from tests.support.server import free_port

pytestmark = pytest.mark.docker


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    found = Settings.from_env(
        {
            "DOCKYARD_STATE_DIR": str(tmp_path),
            "DOCKYARD_REGISTRY": f"127.0.0.1:{free_port()}",
            "HOME": str(tmp_path),
        }
    )
    yield found
    stop_registry(found)


def test_up_starts_the_registry_once_and_down_stops_it(settings: Settings) -> None:
    first = ensure_registry(settings)
    supervisor = Supervisord(SupervisordPaths.of(settings))
    state = supervisor.state(registry_process(settings).name)
    assert state is not None and state.alive
    assert f"docker-registry started under the supervisor: pid {state.pid}" in first
    again = ensure_registry(settings)
    assert f"docker-registry already running under the supervisor: pid {state.pid}" in again
    url = settings.images.registry.url
    assert httpx.get(f"{url}/v2/").status_code == 200
    assert stop_registry(settings) == f"registry: stopped (pid {state.pid})"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/v2/", timeout=1)
    assert stop_registry(settings) == "registry: not started by `dockyard up`"
    assert supervisor.pid() is None  # nothing left to supervise: the supervisor is gone too


def test_garbage_collection_reclaims_deleted_images_and_leaves_the_registry_writable(
    settings: Settings, docker_engine: docker.APIClient, test_image: str, team: str
) -> None:
    ensure_registry(settings)
    address = settings.images.registry.address
    repository = f"{address}/{team}/web"
    docker_engine.tag(test_image, repository, "v1")
    try:
        pushed = list(docker_engine.push(repository, tag="v1", stream=True, decode=True))
        digest = next(c["aux"]["Digest"] for c in pushed if "aux" in c)
        client = RegistryClient(settings.images.registry.url)
        assert client.delete(f"{team}/web", digest)

        collected = collect_garbage(settings, dry_run=False)
        assert collected.bytes_before is not None and collected.bytes_after is not None
        assert collected.bytes_after < collected.bytes_before - 100_000  # busybox is ~1 MB
        assert "blob eligible for deletion" in collected.output

        again = list(docker_engine.push(repository, tag="v1", stream=True, decode=True))
        assert not [c for c in again if "error" in c], again
        assert client.digest(f"{team}/web", "v1") == digest
        client.close()
    finally:
        remove_engine_images(docker_engine, address)


def test_garbage_collection_needs_the_registry_this_host_started(settings: Settings) -> None:
    with pytest.raises(CliError, match="only on the host"):
        collect_garbage(settings, dry_run=True)
