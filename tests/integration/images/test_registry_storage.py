"""The registry on remote storage, for real: S3 (moto's server) and OpenStack Swift (a Swift
all-in-one from Debian's packages), each on loopback.

Each store gets the registry `dockyard up` runs (`ensure_registry`), configured from Dockyard's
own settings (DOCKYARD_REGISTRY_STORAGE=s3|swift and their variables). The engine pushes to it,
Dockyard's registry client reads manifests and blobs back, the engine pulls an image it no longer
has, `dockyard images gc`'s collector reclaims a deleted image, and every claim is checked
in the store itself, by listing its bucket or container.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.cli.registry import collect_garbage, ensure_registry, stop_registry
from dockyard.images.registry import RegistryClient
from dockyard.settings import Settings
from tests.support.images import CONTENT_LABEL
from tests.support.registry import RunningRegistry, remove_engine_images
from tests.support.s3 import RunningS3
from tests.support.server import free_port
from tests.support.swift import RunningSwift

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Objects:
    """Reads of one bucket (S3) or container (Swift), straight from the store."""

    keys: Callable[[], set[str]]
    size: Callable[[str], int]
    """The bytes one object holds (Swift lists a large object's manifest as 0 bytes)."""
    prefix: str
    """Where distribution's tree starts among the keys (S3: the root directory; Swift: files/)."""

    def blob(self, digest: str) -> str:
        algorithm, hexdigest = digest.split(":")
        return f"{self.prefix}docker/registry/v2/blobs/{algorithm}/{hexdigest[:2]}/{hexdigest}/data"


@dataclass(frozen=True)
class Store:
    """A registry whose blobs live in a store's bucket or container."""

    kind: str
    settings: Settings
    objects: Objects

    @property
    def address(self) -> str:
        return self.settings.images.registry.address

    def client(self) -> RegistryClient:
        return RegistryClient(self.settings.images.registry.url)


def _on_s3(request: pytest.FixtureRequest) -> tuple[dict[str, str], Objects]:
    s3: RunningS3 = request.getfixturevalue("s3_server")
    bucket = f"images-{secrets.token_hex(4)}"
    s3.create_bucket(bucket)  # distribution never creates its bucket: the operator does
    environment = {
        "DOCKYARD_REGISTRY_STORAGE": "s3",
        "DOCKYARD_REGISTRY_S3_BUCKET": bucket,
        "DOCKYARD_REGISTRY_S3_ENDPOINT": s3.endpoint,
        "DOCKYARD_REGISTRY_S3_ACCESS_KEY": s3.access_key,
        "DOCKYARD_REGISTRY_S3_SECRET_KEY": s3.secret_key,
    }
    objects = Objects(
        keys=lambda: set(s3.objects(bucket)),
        size=lambda key: s3.size(bucket, key),
        prefix="dockyard/",  # DOCKYARD_REGISTRY_S3_ROOT's default, /dockyard
    )
    return environment, objects


def _on_swift(request: pytest.FixtureRequest) -> tuple[dict[str, str], Objects]:
    swift: RunningSwift = request.getfixturevalue("swift_server")
    container = f"images-{secrets.token_hex(4)}"  # not made here: the swift driver makes it
    environment = {
        "DOCKYARD_REGISTRY_STORAGE": "swift",
        "DOCKYARD_REGISTRY_SWIFT_AUTH_URL": swift.auth_url,
        "DOCKYARD_REGISTRY_SWIFT_USERNAME": swift.user,
        "DOCKYARD_REGISTRY_SWIFT_PASSWORD": swift.key,
        "DOCKYARD_REGISTRY_SWIFT_CONTAINER": container,
    }
    objects = Objects(
        keys=lambda: set(swift.objects(container)),
        size=lambda name: swift.size(container, name),
        prefix="files/",  # the swift driver's own (large objects' segments go under segments/)
    )
    return environment, objects


@pytest.fixture(scope="module", params=["s3", "swift"])
def store(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    docker_engine: docker.APIClient,
) -> Iterator[Store]:
    """`dockyard up`'s registry on a fresh bucket / container of the session's store."""
    environment, objects = (_on_s3 if request.param == "s3" else _on_swift)(request)
    state = tmp_path_factory.mktemp(f"registry-{request.param}")
    settings = Settings.from_env(
        {
            "DOCKYARD_STATE_DIR": str(state),
            "DOCKYARD_REGISTRY": f"127.0.0.1:{free_port()}",
            "HOME": str(state),
            **environment,
        }
    )
    ensure_registry(settings)
    yield Store(request.param, settings, objects)
    stop_registry(settings)
    remove_engine_images(docker_engine, settings.images.registry.address)


def _push(engine: docker.APIClient, source: str, repository: str, tag: str) -> str:
    """Tag `source` as repository:tag, push it, and return the digest the engine reported."""
    engine.tag(source, repository, tag)
    chunks = list(engine.push(repository, tag=tag, stream=True, decode=True))
    errors = [chunk["error"] for chunk in chunks if "error" in chunk]
    assert not errors, errors
    digests = [chunk["aux"]["Digest"] for chunk in chunks if "aux" in chunk]
    assert digests, f"push of {repository}:{tag} reported no digest"
    return str(digests[-1])


def _unique_image(engine: docker.APIClient) -> str:
    """A one-layer image whose layer and config no other image shares; returns its tag."""
    tag = f"dockyard-test/unique:{secrets.token_hex(4)}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (
            ("Dockerfile", b"FROM scratch\nCOPY stamp /stamp\n"),
            ("stamp", secrets.token_bytes(64 * 1024)),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    stream = engine.build(
        fileobj=io.BytesIO(buffer.getvalue()), custom_context=True, tag=tag, rm=True, decode=True
    )
    errors = [chunk["error"] for chunk in stream if "error" in chunk]
    assert not errors, errors
    return tag


def test_a_pushed_image_lands_in_the_store_and_reads_back_by_digest(
    store: Store, docker_engine: docker.APIClient, test_image: str, team: str
) -> None:
    pushed = _push(docker_engine, test_image, f"{store.address}/{team}/web", "v1")
    client = store.client()
    try:
        manifest = client.manifest(f"{team}/web", pushed)
        labels = client.labels(f"{team}/web", pushed)  # the config blob, read from the store
    finally:
        client.close()
    assert manifest is not None and manifest.digest == pushed
    assert manifest.config_digest is not None
    assert labels is not None and CONTENT_LABEL in labels
    keys = store.objects.keys()
    assert store.objects.blob(pushed) in keys
    assert store.objects.blob(manifest.config_digest) in keys
    for digest, size in manifest.layers:
        assert store.objects.blob(digest) in keys
        assert store.objects.size(store.objects.blob(digest)) == size


def test_an_image_the_engine_no_longer_has_is_pulled_back_from_the_store(
    store: Store, docker_engine: docker.APIClient, team: str
) -> None:
    source = _unique_image(docker_engine)
    image_id = docker_engine.inspect_image(source)["Id"]
    repository = f"{store.address}/{team}/once"
    pushed = _push(docker_engine, source, repository, "v1")
    docker_engine.remove_image(image_id, force=True)

    chunks = list(docker_engine.pull(f"{repository}@{pushed}", stream=True, decode=True))
    assert not [chunk for chunk in chunks if "error" in chunk], chunks
    assert docker_engine.inspect_image(f"{repository}@{pushed}")["Id"] == image_id


def test_garbage_collection_removes_a_deleted_image_from_the_store_and_keeps_the_rest(
    store: Store, docker_engine: docker.APIClient, test_image: str, team: str
) -> None:
    kept = _push(docker_engine, test_image, f"{store.address}/{team}/kept", "v1")
    source = _unique_image(docker_engine)
    try:
        gone = _push(docker_engine, source, f"{store.address}/{team}/gone", "v1")
    finally:
        docker_engine.remove_image(source)
    client = store.client()
    try:
        kept_manifest, gone_manifest = (
            client.manifest(f"{team}/kept", kept),
            client.manifest(f"{team}/gone", gone),
        )
        assert kept_manifest is not None and gone_manifest is not None
        gone_blobs = {store.objects.blob(digest) for digest, _ in gone_manifest.layers}
        gone_blobs.add(store.objects.blob(str(gone_manifest.config_digest)))
        assert gone_blobs <= store.objects.keys()
        assert client.delete(f"{team}/gone", gone)

        collected = collect_garbage(store.settings, dry_run=False)

        assert "eligible for deletion" in collected.output
        assert not gone_blobs & store.objects.keys()
        for digest, size in kept_manifest.layers:
            assert store.objects.size(store.objects.blob(digest)) == size
        assert client.digest(f"{team}/kept", "v1") == kept  # and the registry serves again
    finally:
        client.close()


def test_the_generated_configuration_names_the_store_and_no_local_folder(store: Store) -> None:
    text = store.settings.images.registry.config_file.read_text()
    assert f'"{store.kind}": {{' in text
    assert "filesystem" not in text
    assert not Path(store.settings.images.registry.data_dir).exists()


def test_blobs_redirect_to_s3_unless_redirects_are_off(
    store: Store, docker_engine: docker.APIClient, test_image: str, team: str, tmp_path: Path
) -> None:
    # S3 answers with a signed URL of the store, which every engine must reach; Swift without
    # temp URL keys never redirects. With DOCKYARD_REGISTRY_REDIRECT=false (here a second
    # registry on the same bucket or container) the registry streams the blob itself.
    pushed = _push(docker_engine, test_image, f"{store.address}/{team}/web", "v1")
    client = store.client()
    try:
        manifest = client.manifest(f"{team}/web", pushed)
    finally:
        client.close()
    assert manifest is not None and manifest.config_digest is not None
    path = f"/v2/{team}/web/blobs/{manifest.config_digest}"
    registry = store.settings.images.registry

    first = httpx.get(registry.url + path)
    if store.kind == "s3":
        assert registry.s3 is not None and registry.s3.endpoint is not None
        assert first.status_code == 307
        assert first.headers["location"].startswith(f"{registry.s3.endpoint}/")
    else:
        assert first.status_code == 200

    streaming = RunningRegistry(
        replace(registry, redirect=False, address=f"127.0.0.1:{free_port()}", root=tmp_path)
    )
    streaming.start()
    try:
        answer = httpx.get(streaming.settings.url + path)
    finally:
        streaming.stop()
    assert answer.status_code == 200
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == manifest.config_digest
