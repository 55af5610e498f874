"""Knobs of the image center, passed in explicitly (settings.py builds them from the environment).

Three groups: the registry (where images live, and how `dockyard up` runs it), builds (where the
builder works, how many at once, how long one may take) and retention (what is kept).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_REGISTRY = "127.0.0.1:5000"
_VERSION_SEGMENT = re.compile(r"v([123])(?:\.\d+)?")


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
    """An OpenStack Swift container; distribution's `swift` storage driver. The driver makes
    the container if it is missing."""

    auth_url: str
    """Keystone (`https://keystone:5000/v3`, `.../v2.0`) or Swift's own v1 auth, tempauth or
    swauth (`http://proxy:8080/auth/v1.0`): the path names the auth version."""
    username: str
    password: str
    container: str
    tenant: str = ""
    domain: str = "default"
    region: str = ""

    @property
    def auth_version(self) -> int | None:
        """1, 2 or 3, from the auth URL's path (`/auth/v1.0`, `/v2.0`, `/v3`); None if the
        path names none."""
        return swift_auth_version(self.auth_url)


def swift_auth_version(url: str) -> int | None:
    """The auth version a Swift auth URL's path names (`/v3`, `/v2.0`, `/auth/v1.0`), or None.

    The driver would guess from the whole URL (a host named v1.example would do); reading only
    the path's segments, and writing the result down as `authversion`, leaves nothing to guess.
    """
    path = urlsplit(url).path
    for segment in path.strip("/").split("/"):
        match = _VERSION_SEGMENT.fullmatch(segment)
        if match:
            return int(match.group(1))
    return None


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
    redirect: bool = True
    """True: a blob download from S3 storage (or Swift with temp URLs) is answered with a
    redirect to a signed URL of the store, so every engine must reach the store itself. False:
    the registry streams blobs itself (for a store only the registry's host can reach)."""
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
    buildkit: bool = True
    """Build with the engine's BuildKit; False: its classic builder (slower; for an engine
    without BuildKit)."""
    sweep_s: float = 3600.0
    """How often the builder removes deleted services' mirrors and dead builds' contexts."""


@dataclass(frozen=True)
class RetentionSettings:
    keep_revisions: int = 5
    """Images of the newest N revisions of every environment stay (rollback targets)."""
    min_age_s: float = 86400.0
    """Images built more recently than this stay even if no revision uses them yet."""


@dataclass(frozen=True)
class SourceSettings:
    """Where sources may be read from on the server host, and the git remotes Dockyard hosts."""

    roots: tuple[Path, ...] = ()
    """Directories `file://` sources may live under (a team's own hosted repositories are
    always allowed, and the admin may name any path); empty: no other `file://` source."""
    hosted_dir: Path = Path("/var/lib/dockyard/git")
    """The hosted repositories, one bare repository per service: `TEAM/SERVICE.git`."""
    max_push_bytes: int = 512 * 1024 * 1024
    """The largest request body a git remote accepts (a push's pack, as sent)."""
    git_timeout_s: float = 3600.0
    """The longest one request to a git remote may take, body and answer included; then its
    `git http-backend` is killed and the request ends."""
    retired_keep_s: float = 30 * 86400.0
    """How long a deleted service's hosted repository is kept (under TEAM/.deleted/)."""


@dataclass(frozen=True)
class ImageSettings:
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    builds: BuildSettings = field(default_factory=BuildSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    sources: SourceSettings = field(default_factory=SourceSettings)
    follow_s: float = 2.0
    """How often `stable` looks at the environment it follows."""
    debian_mirror: str = "http://deb.debian.org/debian"
    """Where `dockyard images bootstrap` gets Debian from (debootstrap)."""
