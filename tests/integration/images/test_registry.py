"""The registry client and the generated configuration against Debian's real docker-registry."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.domain.errors import Unavailable
from dockyard.images.config import RegistrySettings, StorageKind, SwiftStorage
from dockyard.images.registry import RegistryClient
from dockyard.images.registry_config import registry_environment, write_config
from tests.support.registry import BINARY, RunningRegistry
from tests.support.server import free_port

pytestmark = pytest.mark.docker


def _push(client: docker.APIClient, source: str, repository: str, tag: str) -> str:
    """Tag `source` as repository:tag, push it, and return the digest the engine reported."""
    client.tag(source, repository, tag)
    digests = [
        chunk["aux"]["Digest"]
        for chunk in client.push(repository, tag=tag, stream=True, decode=True)
        if "aux" in chunk
    ]
    assert digests, f"push of {repository}:{tag} reported no digest"
    return str(digests[-1])


def test_a_pushed_image_has_one_digest_in_engine_and_registry(
    docker_engine: docker.APIClient, test_image: str, registry: RunningRegistry, team: str
) -> None:
    repository = f"{registry.address}/{team}/web"
    pushed = _push(docker_engine, test_image, repository, "v1")
    client = registry.client()
    try:
        assert client.digest(f"{team}/web", "v1") == pushed
        assert client.digest(f"{team}/web", pushed) == pushed
        assert f"{repository}@{pushed}" in docker_engine.inspect_image(test_image)["RepoDigests"]
        manifest = client.manifest(f"{team}/web", "v1")
        assert manifest is not None
        assert manifest.digest == pushed
        assert manifest.media_type == "application/vnd.docker.distribution.manifest.v2+json"
        assert manifest.size > sum(size for _, size in manifest.layers) > 0
        assert client.tags(f"{team}/web") == ["v1"]
        assert f"{team}/web" in client.repositories()
    finally:
        client.close()


def test_without_the_accept_types_the_registry_answers_another_digest(
    docker_engine: docker.APIClient, test_image: str, registry: RunningRegistry, team: str
) -> None:
    # Why every manifest request sends them: a bare HEAD gets a schema 1 conversion.
    pushed = _push(docker_engine, test_image, f"{registry.address}/{team}/web", "v1")
    bare = httpx.head(f"{registry.settings.url}/v2/{team}/web/manifests/v1")
    assert bare.headers["docker-content-digest"] != pushed


def test_deleting_by_digest_removes_the_manifest_and_its_tags(
    docker_engine: docker.APIClient, test_image: str, registry: RunningRegistry, team: str
) -> None:
    pushed = _push(docker_engine, test_image, f"{registry.address}/{team}/api", "v1")
    client = registry.client()
    try:
        assert client.delete(f"{team}/api", pushed) is True
        assert client.digest(f"{team}/api", pushed) is None
        assert client.digest(f"{team}/api", "v1") is None
        assert client.tags(f"{team}/api") == []
        assert client.delete(f"{team}/api", pushed) is False  # gone already: not an error
    finally:
        client.close()


def test_unknown_names_have_no_digest_and_no_tags(registry: RunningRegistry) -> None:
    client = registry.client()
    try:
        assert client.digest("nobody/nothing", "v1") is None
        assert client.digest("nobody/nothing", "sha256:" + "0" * 64) is None
        assert client.tags("nobody/nothing") == []
    finally:
        client.close()


def test_a_registry_that_does_not_answer_is_unavailable() -> None:
    client = RegistryClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    try:
        with pytest.raises(Unavailable, match="does not answer"):
            client.digest("team/web", "v1")
    finally:
        client.close()


def _serve_briefly(settings: RegistrySettings, seconds: float) -> tuple[int | None, str]:
    """Run the registry on `settings` for up to `seconds`: (exit code or None if still up, log)."""
    config = write_config(settings)
    process = subprocess.Popen(
        [BINARY, "serve", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=registry_environment(dict(os.environ)),
    )
    try:
        output, _ = process.communicate(timeout=seconds)
        return process.returncode, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        answered = httpx.get(f"{settings.url}/v2/", timeout=2).status_code
        process.terminate()
        output, _ = process.communicate(timeout=10)
        return None, output.decode(errors="replace") + f"\n/v2/ answered {answered}"


def test_a_swift_store_that_does_not_answer_stops_the_registry_at_start(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    # The swift driver authenticates at start, so an unreachable Keystone fails `dockyard up`
    # at once rather than the first push. Real S3 and Swift: test_registry_storage.py.
    settings = replace(
        RegistrySettings(),
        address=f"127.0.0.1:{free_port()}",
        root=tmp_path,
        storage=StorageKind.SWIFT,
        swift=SwiftStorage(
            auth_url="http://127.0.0.1:9/v3", username="u", password="p", container="images"
        ),
    )
    code, log = _serve_briefly(settings, 10)
    assert code not in (None, 0), log
    assert "swift authentication failed" in log and "connection refused" in log, log
