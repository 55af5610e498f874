"""The log benchmark's writer: a tiny static C program in a `FROM scratch` image that prints
numbered 100-byte lines, each carrying the time it was written, as fast as it can or at a set
rate.

A shell loop in busybox manages a few thousand lines a second and `yes` cannot number its lines;
this writer outruns Docker's json-file driver (~177k lines/s here), so the benchmark measures
Dockyard, not the writer. Built with the host's gcc (`-static`), then through the Engine API
from an in-memory context; a second call finds the image by its content label.

A line: `w000000042 t1765000000123456789 ` + padding words to 99 bytes + `\\n`, where `w…` is
its number (a word of its own, so a search finds exactly that line) and `t…` the writer's
CLOCK_REALTIME in nanoseconds when it formatted the line.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import ImageNotFound

WRITER_IMAGE = "dockyard-bench/logwriter:1"
CONTENT_LABEL = "io.dockyard.bench.content"
LINE_BYTES = 100

# argv: COUNT RATE (lines/s; 0 = as fast as the pipe takes them).
SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char PAD[] =
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incidid";

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put(char *buf, size_t *used, long n) {
    char *line = buf + *used;
    int head = snprintf(line, 40, "w%09ld t%019lld ", n, now_ns());
    memcpy(line + head, PAD, 99 - head);
    line[99] = '\n';
    *used += 100;
}

static void flush(char *buf, size_t *used) {
    size_t done = 0;
    while (done < *used) {
        ssize_t wrote = write(1, buf + done, *used - done);
        if (wrote <= 0) exit(1);
        done += (size_t)wrote;
    }
    *used = 0;
}

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    long rate = argc > 2 ? atol(argv[2]) : 0;
    static char buf[1 << 16];
    size_t used = 0;
    long long start = now_ns();
    long n = 1;
    while (n <= count) {
        long due = count;
        if (rate > 0) {
            due = 1 + (long)((now_ns() - start) * rate / 1000000000LL);
            if (due > count) due = count;
            if (n > due) {
                struct timespec pause = {0, 500000};
                nanosleep(&pause, NULL);
                continue;
            }
        }
        for (; n <= due && used + 100 <= sizeof buf; n++) put(buf, &used, n);
        flush(buf, &used);
    }
    return 0;
}
"""

DOCKERFILE = 'FROM scratch\nCOPY writer /writer\nENTRYPOINT ["/writer"]\n'


def _digest() -> str:
    return hashlib.sha256((SOURCE + DOCKERFILE).encode()).hexdigest()[:16]


def _compiled(workdir: Path) -> bytes:
    (workdir / "writer.c").write_text(SOURCE)
    subprocess.run(
        ["gcc", "-O2", "-static", "-o", str(workdir / "writer"), str(workdir / "writer.c")],
        check=True,
        capture_output=True,
    )
    return (workdir / "writer").read_bytes()


def _context(binary: bytes, digest: str) -> bytes:
    buf = io.BytesIO()
    dockerfile = DOCKERFILE + f'LABEL {CONTENT_LABEL}="{digest}"\n'
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (("Dockerfile", dockerfile.encode(), 0o644),
                                 ("writer", binary, 0o755)):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ensure_writer_image(client: docker.APIClient, *, tag: str = WRITER_IMAGE) -> str:
    """Build `tag` unless an image of the same source is already there; return the tag.
    Needs gcc and a static libc (Debian's gcc + libc6-dev)."""
    digest = _digest()
    try:
        labels = (client.inspect_image(tag).get("Config") or {}).get("Labels") or {}
        if labels.get(CONTENT_LABEL) == digest:
            return tag
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="dockyard-logwriter-") as tmp:
        context = _context(_compiled(Path(tmp)), digest)
    stream = client.build(
        fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True, decode=True
    )
    errors = [chunk["error"] for chunk in stream if "error" in chunk]
    if errors:
        raise RuntimeError(f"building {tag} failed: {'; '.join(errors)}")
    return tag
