"""The registry's configuration, rendered from settings: one storage driver, deletes on."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.images.config import (
    RegistrySettings,
    S3Storage,
    StorageKind,
    SwiftStorage,
    swift_auth_version,
)
from dockyard.images.registry_config import registry_environment, render, write_config

BASE = RegistrySettings(address="127.0.0.1:5999", root=Path("/srv/registry"))


def _document(text: str) -> dict[str, object]:
    header, _, body = text.partition("\n")
    assert header.startswith("#")
    parsed: dict[str, object] = json.loads(body)
    return parsed


def test_filesystem_storage_lives_under_the_registry_root() -> None:
    doc = _document(render(BASE, secret="s"))
    assert doc["storage"] == {
        "filesystem": {"rootdirectory": "/srv/registry/data"},
        "delete": {"enabled": True},
        "cache": {"blobdescriptor": "inmemory"},
    }
    assert doc["http"] == {"addr": "127.0.0.1:5999", "secret": "s"}


@pytest.mark.parametrize(
    ("settings", "driver", "expected"),
    [
        (
            replace(BASE, storage=StorageKind.S3, s3=S3Storage(bucket="images")),
            "s3",
            {"bucket": "images", "region": "us-east-1", "rootdirectory": "/dockyard",
             "v4auth": True},
        ),
        (
            replace(
                BASE,
                storage=StorageKind.S3,
                s3=S3Storage(
                    bucket="images", endpoint="https://rgw.internal", access_key="a",
                    secret_key="b",
                ),
            ),
            "s3",
            {"bucket": "images", "region": "us-east-1", "rootdirectory": "/dockyard",
             "v4auth": True, "regionendpoint": "https://rgw.internal", "secure": True,
             "accesskey": "a", "secretkey": "b"},
        ),
        (
            replace(
                BASE,
                storage=StorageKind.SWIFT,
                swift=SwiftStorage(
                    auth_url="https://keystone/v3", username="u", password="p",
                    container="images", tenant="platform", region="one",
                ),
            ),
            "swift",
            {"authurl": "https://keystone/v3", "authversion": 3, "username": "u", "password": "p",
             "container": "images", "domain": "default", "tenant": "platform",
             "region": "one"},
        ),
    ],
)  # fmt: skip
def test_remote_storage_names_exactly_its_driver(
    settings: RegistrySettings, driver: str, expected: dict[str, object]
) -> None:
    storage = _document(render(settings, secret="s"))["storage"]
    assert isinstance(storage, dict)
    assert storage[driver] == expected
    assert "filesystem" not in storage
    assert storage["delete"] == {"enabled": True}


def test_redirects_to_the_store_can_be_turned_off() -> None:
    s3 = replace(BASE, storage=StorageKind.S3, s3=S3Storage(bucket="images"))
    assert "redirect" not in _document(render(s3, secret="s"))["storage"]  # type: ignore[operator]
    storage = _document(render(replace(s3, redirect=False), secret="s"))["storage"]
    assert isinstance(storage, dict)
    assert storage["redirect"] == {"disable": True}


@pytest.mark.parametrize(
    ("url", "version"),
    [
        ("http://127.0.0.1:8080/auth/v1.0", 1),
        ("https://keystone:5000/v2.0/", 2),
        ("https://cloud.example/identity/v3", 3),
        ("https://v1.example:5000/", None),  # a host name is not a path: the driver would guess
        ("https://keystone:5000", None),
    ],
)
def test_the_swift_auth_version_comes_from_the_url_path(url: str, version: int | None) -> None:
    assert swift_auth_version(url) == version


def test_read_only_mode_is_a_maintenance_flag() -> None:
    storage = _document(render(BASE, secret="s", read_only=True))["storage"]
    assert isinstance(storage, dict)
    assert storage["maintenance"] == {"readonly": {"enabled": True}}
    assert "maintenance" not in _document(render(BASE, secret="s"))["storage"]  # type: ignore[operator]


def test_the_upload_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = replace(BASE, root=tmp_path)
    first = _document(write_config(settings).read_text())["http"]
    second = _document(write_config(settings, read_only=True).read_text())["http"]
    assert first == second
    assert (tmp_path / "config.yml").stat().st_mode & 0o777 == 0o600


def test_the_registry_never_gets_the_aws_ca_bundle_variable() -> None:
    assert registry_environment({"AWS_CA_BUNDLE": "/x.pem", "PATH": "/bin"}) == {"PATH": "/bin"}
