"""The registry's storage settings as read from the environment: S3 and Swift variables, and
the refusals that name the variable and the fix."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.images.config import RegistrySettings, S3Storage, StorageKind, SwiftStorage
from dockyard.settings import Settings

SWIFT = {
    "DOCKYARD_REGISTRY_STORAGE": "swift",
    "DOCKYARD_REGISTRY_SWIFT_AUTH_URL": "http://127.0.0.1:8080/auth/v1.0",
    "DOCKYARD_REGISTRY_SWIFT_USERNAME": "test:tester",
    "DOCKYARD_REGISTRY_SWIFT_PASSWORD": "testing",
    "DOCKYARD_REGISTRY_SWIFT_CONTAINER": "images",
}


def _registry(**environ: str) -> RegistrySettings:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).images.registry


def test_s3_settings_with_an_endpoint_and_keys() -> None:
    registry = _registry(
        DOCKYARD_REGISTRY_STORAGE="s3",
        DOCKYARD_REGISTRY_S3_BUCKET="images",
        DOCKYARD_REGISTRY_S3_ENDPOINT="http://127.0.0.1:9000/",
        DOCKYARD_REGISTRY_S3_ACCESS_KEY="a",
        DOCKYARD_REGISTRY_S3_SECRET_KEY="b",
    )
    assert registry.storage is StorageKind.S3
    assert registry.s3 == S3Storage(
        bucket="images", endpoint="http://127.0.0.1:9000", access_key="a", secret_key="b"
    )
    assert registry.swift is None
    assert registry.redirect is True


def test_swift_settings_with_tempauth() -> None:
    registry = _registry(**SWIFT, DOCKYARD_REGISTRY_REDIRECT="false")
    assert registry.swift == SwiftStorage(
        auth_url="http://127.0.0.1:8080/auth/v1.0",
        username="test:tester",
        password="testing",
        container="images",
    )
    assert registry.swift.auth_version == 1
    assert registry.redirect is False


@pytest.mark.parametrize(
    ("environ", "field", "hint"),
    [
        (
            {"DOCKYARD_REGISTRY_STORAGE": "s3"},
            "DOCKYARD_REGISTRY_S3_BUCKET",
            "is required with DOCKYARD_REGISTRY_STORAGE=s3",
        ),
        (
            {
                "DOCKYARD_REGISTRY_STORAGE": "s3",
                "DOCKYARD_REGISTRY_S3_BUCKET": "images",
                "DOCKYARD_REGISTRY_S3_ACCESS_KEY": "a",
            },
            "DOCKYARD_REGISTRY_S3_SECRET_KEY",
            "together, or neither",
        ),
        (
            {
                "DOCKYARD_REGISTRY_STORAGE": "s3",
                "DOCKYARD_REGISTRY_S3_BUCKET": "images",
                "DOCKYARD_REGISTRY_S3_SECRET_KEY": "b",
            },
            "DOCKYARD_REGISTRY_S3_ACCESS_KEY",
            "together, or neither",
        ),
        (
            {**SWIFT, "DOCKYARD_REGISTRY_SWIFT_AUTH_URL": "https://keystone:5000"},
            "DOCKYARD_REGISTRY_SWIFT_AUTH_URL",
            "name the auth version in the path",
        ),
        (
            {**SWIFT, "DOCKYARD_REGISTRY_SWIFT_CONTAINER": ""},
            "DOCKYARD_REGISTRY_SWIFT_CONTAINER",
            "it is empty",
        ),
        ({"DOCKYARD_REGISTRY_REDIRECT": "maybe"}, "DOCKYARD_REGISTRY_REDIRECT", "true or false"),
    ],
)
def test_incomplete_storage_settings_name_the_variable_and_the_fix(
    environ: dict[str, str], field: str, hint: str
) -> None:
    with pytest.raises(Invalid) as caught:
        _registry(**environ)
    assert caught.value.field == field
    assert hint in caught.value.message
