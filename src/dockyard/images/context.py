"""The build context the engine gets: the commit's context directory as git archives it, less
what its .dockerignore excludes (as the docker CLI leaves it out), plus Dockyard's copy of the
service's Dockerfile with the OCI labels appended as one LABEL line.

Why a LABEL line rather than the engine's `labels` build option: the two label the final stage
alike, and cost the same with BuildKit (nothing: metadata only), but on the classic builder
(DOCKYARD_BUILDKIT=false) the option costs a second image commit per build (measured here:
+0.2 s on a 0.23 s build) where the line costs one metadata step (+0.07 s).
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path

from dockyard.domain.source import GitSource
from dockyard.images import dockerignore
from dockyard.images.git import Mirror, SourceError

GENERATED = ".dockyard.Dockerfile"
"""The generated Dockerfile's name at the root of the context."""
IGNORE_FILE = ".dockerignore"
MAX_LEAVE_OUT_BYTES = 512 * 1024
"""Paths to leave out beyond this length in all go by a pass over the tar in Python instead
(a command line holds 2 MiB)."""


def labelled_dockerfile(text: str, labels: Mapping[str, str]) -> str:
    """`text` with one LABEL instruction appended (keys and values JSON-quoted). Pure."""
    pairs = " ".join(f"{json.dumps(key)}={json.dumps(value)}" for key, value in labels.items())
    # Two newlines: the last line may end a continuation ('\') or lack its newline.
    return f"{text.rstrip()}\n\nLABEL {pairs}\n"


def make_context(
    mirror: Mirror, sha: str, *, source: GitSource, labels: Mapping[str, str], into: Path
) -> Path:
    """The context tar of `source` at `sha`, with GENERATED in it; the tar's path (`into`).

    The Dockerfile and .dockerignore are read from the commit (from their loose objects when
    they are, without git); `git archive` itself adds GENERATED and leaves out what the
    .dockerignore excludes. A pass over the tar in Python (~0.2 s for 10,000 files) is made
    only for a list of paths too long for a command line, or a tar BuildKit would misread."""
    mirror.check_context(sha, source.context)
    inside = "" if source.context in ("", ".") else f"{source.context}/"
    dockerfile = source.dockerfile
    texts = mirror.read_files(sha, [inside + dockerfile, inside + IGNORE_FILE])
    original, ignore = texts[inside + dockerfile], texts[inside + IGNORE_FILE]
    if original is None:
        raise SourceError(f"no Dockerfile at {inside + dockerfile!r} in commit {sha[:12]}")
    patterns = _patterns(ignore, sha) if ignore is not None else []
    # surrogateescape: bytes that are not UTF-8 reach the engine exactly as committed.
    text = original.decode(errors="surrogateescape")
    keep = {dockerfile, IGNORE_FILE, GENERATED}
    leave: list[str] = []
    if patterns:
        leave = paths_to_leave_out(mirror.list_files(sha, source.context), patterns, keep=keep)
    by_git = sum(len(path) + 20 for path in leave) <= MAX_LEAVE_OUT_BYTES
    generated = into.with_name(into.name + ".add") / GENERATED
    generated.parent.mkdir(parents=True, exist_ok=True)
    try:
        generated.write_bytes(labelled_dockerfile(text, labels).encode(errors="surrogateescape"))
        context = mirror.export(
            sha, context=source.context, into=into, add=generated,
            leave_out=leave if by_git else (),
        )  # fmt: skip
    finally:
        shutil.rmtree(generated.parent, ignore_errors=True)
    in_python = bool(leave) and not by_git  # too long a command line for git
    if in_python or not _opens_as_tar(context):
        _leave_out(context, patterns if in_python else [], keep=keep)
    return context


def _opens_as_tar(context: Path) -> bool:
    """Whether BuildKit takes the tar for one: it reads one member from the first 1 KiB, and a
    first member with a pax or GNU long-name header of its own (a path over 100 bytes, in an
    archive of a context directory, which has no global header first) does not fit there.
    `_leave_out` writes a global header first."""
    with context.open("rb") as tar:
        head = tar.read(512)
    return len(head) < 512 or head[156:157] not in (b"x", b"L", b"K")


def paths_to_leave_out(
    files: list[str], patterns: list[dockerignore.Pattern], *, keep: set[str]
) -> list[str]:
    """What to tell git to leave out of a context of `files`: each file `patterns` exclude,
    or rather its highest directory that they exclude as a directory and that holds nothing
    kept (one path for all under it, which then also goes as `docker build` leaves it). Pure."""
    dropped = [f for f in files if f not in keep and dockerignore.excluded(f, patterns)]
    gone = set(dropped)
    sent = (f for f in files if f not in gone)
    holding = {"/".join(f.split("/")[:i]) for f in sent for i in range(1, f.count("/") + 1)}
    leave: set[str] = set()
    for path in dropped:
        parts = path.split("/")
        whole = (
            "/".join(parts[:i])
            for i in range(1, len(parts))
            if "/".join(parts[:i]) not in holding
            and dockerignore.excluded("/".join(parts[:i]), patterns)
        )
        leave.add(next(whole, path))
    return sorted(leave)


def _patterns(ignore: bytes, sha: str) -> list[dockerignore.Pattern]:
    try:
        return dockerignore.parse(ignore.decode(errors="replace"))
    except ValueError as exc:
        raise SourceError(
            f"{exc} (commit {sha[:12]}); fix it: `docker build` refuses it too"
        ) from None


def _leave_out(context: Path, patterns: list[dockerignore.Pattern], *, keep: set[str]) -> None:
    """Rewrite the tar `context` without what `patterns` (a .dockerignore's) exclude; `keep`
    is sent whatever they say, as the docker CLI sends it."""
    kept = context.with_name(context.name + ".kept")
    with tarfile.open(context, mode="r") as whole:
        # A global header first (git's, with the commit id, or one of ours), and not again in
        # each member: BuildKit takes a body whose first 1 KiB holds no whole member header
        # (a member's own pax header and its data fill it) for a Dockerfile, not a tar.
        common = dict(whole.pax_headers) or {"comment": "a Dockyard build context"}
        with tarfile.open(kept, mode="w", format=tarfile.PAX_FORMAT, pax_headers=common) as out:
            for member in whole:
                name = member.name.removeprefix("./")
                if name in keep or not dockerignore.excluded(name, patterns):
                    own = member.pax_headers.items()
                    member.pax_headers = {k: v for k, v in own if common.get(k) != v}
                    out.addfile(member, whole.extractfile(member) if member.isfile() else None)
    os.replace(kept, context)
