"""Base images, made on this host and pushed to Dockyard's registry, so services have something
to build `FROM` without any public registry:

- `REGISTRY/dockyard.base/busybox`: Debian's static busybox (sh, httpd, wget, ...) on an empty
  root filesystem, built through the engine from a context made in memory (well under a second);
- `REGISTRY/dockyard.base/debian-python`: Debian bookworm (minbase) with python3, made by
  debootstrap from the Debian mirror (about a minute, ~260 MB) and imported through the engine.

Each image carries a content label: a digest of what it is made from (the busybox binary, the
debootstrap recipe). A run first asks the registry for the image's labels and skips an image
whose label matches, so the second run takes a fraction of a second. (`dockyard.base` contains
a dot, which no team name may: a team can never push into it.)
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.images.engine import Engine
from dockyard.images.registry import RegistryClient

NAMESPACE = "dockyard.base"
CONTENT_LABEL = "io.dockyard.base.content"
BUSYBOX = Path("/bin/busybox")
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3",)
DEBOOTSTRAP_TIMEOUT_S = 1800.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class Made:
    reference: str
    skipped: bool
    seconds: float


@dataclass(frozen=True)
class Bootstrap:
    engine: Engine
    registry: RegistryClient
    address: str
    work_dir: Path
    mirror: str = "http://deb.debian.org/debian"

    def repository(self, name: str) -> str:
        return f"{self.address}/{NAMESPACE}/{name}"

    def _current(self, name: str, tag: str) -> str | None:
        labels = self.registry.labels(f"{NAMESPACE}/{name}", tag) or {}
        return labels.get(CONTENT_LABEL)

    def busybox(self, *, say: Say, force: bool = False) -> Made:
        """The busybox base image, tagged `latest` and with busybox's version."""
        started = time.monotonic()
        context, content = busybox_context(BUSYBOX)
        reference = f"{self.repository('busybox')}:latest"
        if not force and self._current("busybox", "latest") == content:
            return Made(reference, True, time.monotonic() - started)
        say(f"building {reference} from {BUSYBOX}")
        with tempfile.NamedTemporaryFile(dir=self._tmp(), suffix=".tar") as tar:
            tar.write(context)
            tar.flush()
            self.engine.build(
                Path(tar.name), dockerfile="Dockerfile", tag=reference,
                labels={CONTENT_LABEL: content}, on_line=lambda _line: None,
                deadline=time.monotonic() + 600,
            )  # fmt: skip
        self.engine.push(self.repository("busybox"), "latest", on_line=lambda _line: None,
                         deadline=time.monotonic() + 600)  # fmt: skip
        return Made(reference, False, time.monotonic() - started)

    def debian_python(self, *, say: Say, force: bool = False) -> Made:
        """Debian bookworm minbase with python3, tagged `bookworm` and `latest`."""
        started = time.monotonic()
        content = _digest(f"{DEBIAN_SUITE} minbase {' '.join(DEBIAN_PACKAGES)} {self.mirror}")
        reference = f"{self.repository('debian-python')}:{DEBIAN_SUITE}"
        if not force and self._current("debian-python", DEBIAN_SUITE) == content:
            return Made(reference, True, time.monotonic() - started)
        root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=self._tmp()))
        try:
            say(f"debootstrap {DEBIAN_SUITE} (minbase + {', '.join(DEBIAN_PACKAGES)}) "
                f"from {self.mirror}: about a minute")  # fmt: skip
            _debootstrap(root, mirror=self.mirror)
            tar = root.with_suffix(".tar")
            say(f"importing {reference}")
            subprocess.run(
                ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tar), "."], check=True
            )
            self.engine.import_image(
                tar, repository=self.repository("debian-python"), tag=DEBIAN_SUITE,
                changes=[
                    'CMD ["python3"]', "ENV LANG=C.UTF-8",
                    f'LABEL {CONTENT_LABEL}="{content}"',
                ],
            )  # fmt: skip
            tar.unlink(missing_ok=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        say(f"pushing {reference}")
        self.engine.push(self.repository("debian-python"), DEBIAN_SUITE,
                         on_line=lambda _line: None, deadline=time.monotonic() + 1800)  # fmt: skip
        return Made(reference, False, time.monotonic() - started)

    def _tmp(self) -> Path:
        folder = self.work_dir / "bootstrap"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _debootstrap(root: Path, *, mirror: str) -> None:
    command = [
        "debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}",
        DEBIAN_SUITE, str(root), mirror,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise RuntimeError(f"debootstrap failed ({done.returncode}): {tail}")
    # Keep the image small and free of the host's apt caches and debootstrap's leftovers.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists", "debootstrap"):
        shutil.rmtree(root / leftover, ignore_errors=True)


def busybox_context(busybox: Path) -> tuple[bytes, str]:
    """The busybox image's build context (a tar) and its content digest."""
    binary = busybox.read_bytes()
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    applets = sorted(a for a in listed.stdout.split() if a and a != "busybox")
    dockerfile = 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["sh"]\n'
    content = hashlib.sha256(binary + dockerfile.encode() + " ".join(applets).encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _file(tar, "Dockerfile", dockerfile.encode())
        for folder, mode in (("rootfs", 0o755), ("rootfs/bin", 0o755), ("rootfs/tmp", 0o1777),
                             ("rootfs/etc", 0o755)):  # fmt: skip
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        _file(tar, "rootfs/bin/busybox", binary, mode=0o755)
        _file(tar, "rootfs/etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:\n")
        _file(tar, "rootfs/etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        for applet in applets:
            info = tarfile.TarInfo(f"rootfs/bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buffer.getvalue(), content.hexdigest()[:16]


def _file(tar: tarfile.TarFile, name: str, data: bytes, *, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))
