"""Knobs of the image center, passed in explicitly (settings.py builds them from the environment).

Three groups: the registry (where images live, and how `dockyard up` runs it), builds (where the
builder works, how many at once, how long one may take) and retention (what is kept).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REGISTRY = "127.0.0.1:5000"


class StorageKind(enum.StrEnum):
    """Where the registry keeps blobs and manifests."""

    FILESYSTEM = "filesystem"
    S3 = "s3"
    SWIFT = "swift"


@dataclass(frozen=True)
class S3Storage:
    """An S3 (or S3-compatible) bucket; distribution's `s3` storage driver."""

    bucket: str
    region: str = "us-east-1"
    endpoint: str | None = None
    """For S3-compatible stores (Ceph RGW, MinIO): their URL; None for AWS itself."""
    access_key: str | None = None
    """None: the driver takes credentials from the instance role / its environment."""
    secret_key: str | None = None
    root_directory: str = "/dockyard"


@dataclass(frozen=True)
class SwiftStorage:
    """An OpenStack Swift container; distribution's `swift` storage driver (Keystone v3)."""

    auth_url: str
    username: str
    password: str
    container: str
    tenant: str = ""
    domain: str = "default"
    region: str = ""


@dataclass(frozen=True)
class RegistrySettings:
    address: str = DEFAULT_REGISTRY
    """host:port of the registry as the engine and the server reach it; image names start with
    it (`127.0.0.1:5000/team/service:abc1234`). Docker allows plain HTTP to 127.0.0.0/8 without
    configuration; another host needs `insecure-registries` in daemon.json, or TLS in front."""
    root: Path = Path("/var/lib/dockyard/registry")
    """Where `dockyard up` keeps the registry's configuration, secret and (filesystem) data."""
    storage: StorageKind = StorageKind.FILESYSTEM
    s3: S3Storage | None = None
    swift: SwiftStorage | None = None
    managed: bool = True
    """True when `dockyard up` runs the registry on this host (the address is loopback and was
    not configured to point elsewhere)."""
    timeout_s: float = 10.0

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yml"

    @property
    def data_dir(self) -> Path:
        """Blobs and manifests, for filesystem storage."""
        return self.root / "data"


@dataclass(frozen=True)
class BuildSettings:
    work_dir: Path = Path("/var/lib/dockyard/builds")
    """Mirrors of service repositories and build contexts."""
    concurrency: int = 1
    """Builds run at once by one server; more only fight over two cores."""
    timeout_s: float = 1800.0
    """A build running longer is stopped and failed."""
    lease_s: float = 30.0
    """A running build not heard from for this long was interrupted (its server died)."""
    poll_s: float = 1.0
    """How often the builder looks for queued builds when nobody told it about one."""


@dataclass(frozen=True)
class RetentionSettings:
    keep_revisions: int = 5
    """Images of the newest N revisions of every environment stay (rollback targets)."""
    min_age_s: float = 86400.0
    """Images built more recently than this stay even if no revision uses them yet."""


@dataclass(frozen=True)
class ImageSettings:
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    builds: BuildSettings = field(default_factory=BuildSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    follow_s: float = 2.0
    """How often `stable` looks at the environment it follows."""
    debian_mirror: str = "http://deb.debian.org/debian"
    """Where `dockyard images bootstrap` gets Debian from (debootstrap)."""
