"""The small image the Docker tests run: Debian's static busybox on an empty root filesystem.

Built through the Engine API from an in-memory build context (no registry, no CLI), in well under
a second; a second call finds the image by tag and content label and returns at once.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import ImageNotFound

TEST_IMAGE = "dockyard-test/busybox:1"
BUSYBOX = Path("/bin/busybox")
CONTENT_LABEL = "io.dockyard.test.content"
HTTP_PORT = 8080

DOCKERFILE = f"""\
FROM scratch
COPY rootfs/ /
EXPOSE {HTTP_PORT}
CMD ["httpd", "-f", "-p", "{HTTP_PORT}", "-h", "/www"]
"""
FILES = {
    "rootfs/www/index.html": b"<!doctype html><title>dockyard test</title><p>hello</p>\n",
    "rootfs/www/health": b"ok\n",
}


@dataclass(frozen=True)
class _Context:
    tar: bytes
    digest: str


def _applets(busybox: Path) -> list[str]:
    """Every applet this busybox offers (sh, httpd, wget, sleep, cat, echo, ...)."""
    out = subprocess.run([str(busybox), "--list"], capture_output=True, check=True, text=True)
    return sorted(name for name in out.stdout.split() if name and name != "busybox")


def _add(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _dir(tar: tarfile.TarFile, name: str, *, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)


def build_context(busybox: Path = BUSYBOX) -> _Context:
    """The build context as a tar, and a digest of everything in it (the content label)."""
    binary = busybox.read_bytes()
    applets = _applets(busybox)
    digest = hashlib.sha256(binary + DOCKERFILE.encode() + " ".join(applets).encode())
    for name, data in sorted(FILES.items()):
        digest.update(name.encode() + data)
    dockerfile = DOCKERFILE + f'LABEL {CONTENT_LABEL}="{digest.hexdigest()[:16]}"\n'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, "Dockerfile", dockerfile.encode())
        for directory in ("rootfs", "rootfs/bin", "rootfs/www"):
            _dir(tar, directory)
        _dir(tar, "rootfs/tmp", mode=0o1777)
        _add(tar, "rootfs/bin/busybox", binary, mode=0o755)
        # Symlinks instead of `RUN busybox --install`: no build container, so the build is fast.
        for applet in applets:
            _symlink(tar, f"rootfs/bin/{applet}", "busybox")
        for name, data in FILES.items():
            _add(tar, name, data)
    return _Context(tar=buf.getvalue(), digest=digest.hexdigest()[:16])


def _current_label(client: docker.APIClient, tag: str) -> str | None:
    try:
        config = client.inspect_image(tag).get("Config") or {}
    except ImageNotFound:
        return None
    labels = config.get("Labels") or {}
    value = labels.get(CONTENT_LABEL)
    return value if isinstance(value, str) else None


def ensure_test_image(client: docker.APIClient, *, tag: str = TEST_IMAGE) -> str:
    """Build `tag` unless an image with the same content is already there; return the tag."""
    context = build_context()
    if _current_label(client, tag) == context.digest:
        return tag
    stream = client.build(
        fileobj=io.BytesIO(context.tar), custom_context=True, tag=tag, rm=True, decode=True
    )
    errors = [chunk["error"] for chunk in stream if "error" in chunk]
    if errors:
        raise RuntimeError(f"building {tag} failed: {'; '.join(errors)}")
    return tag
