"""A service's declared log files: paths inside its container that Dockyard collects, and the
rule that joins multi-line records (a stack trace) into one.

The runtime mounts one per-instance host directory at the directory of each declared path (the
only mount it makes), so a path's directory must be a fixed absolute directory of the service's
own, never a system one; only the file name may be a glob. Pure: no I/O.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass

from dockyard.domain.errors import Invalid

MAX_LOG_PATHS = 8
MAX_LOG_PATH_CHARS = 512
MAX_MULTILINE_CHARS = 256
MAX_RECORD_BYTES = 1024 * 1024
MAX_WAIT_S = 60.0
GLOB_CHARS = frozenset("*?[]")
# Directories a mount must never hide or expose: the container's own system, and where the
# engine injects files of its own (resolv.conf, hosts, secrets).
SYSTEM_DIRS = frozenset(
    {"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run",
     "/sbin", "/sys", "/usr", "/var", "/var/lib"}
)  # fmt: skip
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/etc", "/run", "/var/run", "/boot")
"""Nothing under these either: kernel interfaces and configuration, never a service's logs."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Invalid(message, field="log_paths")


def split_log_path(path: str) -> tuple[str, str]:
    """(directory, file-name pattern) of a declared path: `/app/logs/*.log` gives
    (`/app/logs`, `*.log`). Invalid if the path is not one a service may declare: relative,
    with `..` or `.`, a glob before the file name, a system directory, or no file name."""
    shown = repr(path)
    _require(bool(path), "a log path must not be empty: give e.g. /app/logs/*.log")
    _require(
        len(path) <= MAX_LOG_PATH_CHARS,
        f"log path {shown[:60]}... is longer than {MAX_LOG_PATH_CHARS} characters",
    )
    _require(
        path.isprintable() and "\\" not in path,
        f"log path {shown} has a control character or backslash: remove it",
    )
    _require(
        path.startswith("/"),
        f"log path {shown} is relative: give an absolute path in the container",
    )
    parts = path.split("/")[1:]
    _require(
        all(part not in ("", ".", "..") for part in parts),
        f"log path {shown} has an empty, '.' or '..' part: give a plain absolute path",
    )
    directory, name = posixpath.split(path)
    _require(
        not GLOB_CHARS & set(directory),
        f"log path {shown} has a glob in its directory: only the file name may be a pattern "
        "(e.g. /app/logs/*.log)",
    )
    _require(
        directory not in SYSTEM_DIRS
        and not any(directory == t or directory.startswith(t + "/") for t in SYSTEM_TREES),
        f"log path {shown} is in the system directory {directory}: write logs to a directory "
        "of the service's own (e.g. /app/logs), which Dockyard mounts per instance",
    )
    return directory, name


def check_log_paths(paths: tuple[str, ...]) -> None:
    """Invalid unless `paths` are at most MAX_LOG_PATHS valid, distinct declared paths."""
    _require(
        len(paths) <= MAX_LOG_PATHS,
        f"at most {MAX_LOG_PATHS} log paths; a service with more should gather its logs "
        "under fewer directories and use patterns",
    )
    _require(len(set(paths)) == len(paths), "a log path is listed twice: list each path once")
    for path in paths:
        split_log_path(path)


def log_dirs(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct directories of `paths`, in order of first appearance: one mount each."""
    return tuple(dict.fromkeys(split_log_path(path)[0] for path in paths))


@dataclass(frozen=True)
class LogMultiline:
    """Lines not matching `start` (at their beginning) continue the record before them; a
    record ends once it would pass `max_bytes`, or `max_wait_s` after its first line."""

    start: str
    max_bytes: int = 64 * 1024
    max_wait_s: float = 1.0

    def __post_init__(self) -> None:
        f = "log_multiline"
        if not self.start or len(self.start) > MAX_MULTILINE_CHARS:
            raise Invalid(
                f"log_multiline.start must be a regex of 1-{MAX_MULTILINE_CHARS} characters "
                r"matching a record's first line, e.g. ^\d{4}-\d\d-\d\d",
                field=f,
            )
        try:
            re.compile(self.start)
        except re.error as exc:
            raise Invalid(
                f"log_multiline.start {self.start!r} is not a regular expression: {exc}", field=f
            ) from exc
        if not (isinstance(self.max_bytes, int) and 1024 <= self.max_bytes <= MAX_RECORD_BYTES):
            raise Invalid(f"log_multiline.max_bytes must be 1024-{MAX_RECORD_BYTES} bytes", field=f)
        if not 0.01 <= self.max_wait_s <= MAX_WAIT_S:
            raise Invalid(f"log_multiline.max_wait_s must be 0.01-{MAX_WAIT_S:g} s", field=f)


# ---- how a runtime tells the host agent (container labels) ----

LABEL_LOG_PATHS = "io.dockyard.log-paths"
"""JSON list of DeclaredFiles: where each declared path's files are on the host."""
LABEL_LOG_MULTILINE = "io.dockyard.log-multiline"
"""JSON of the service's LogMultiline, if it has one."""


@dataclass(frozen=True)
class DeclaredFiles:
    """One declared path as the host agent finds it: files named `glob` in host directory
    `dir`, which is mounted in the container where `path` (the declared pattern) points."""

    dir: str
    glob: str
    path: str

    def channel(self, name: str) -> str:
        """The path inside the container of the file `name` found in `dir`: its lines' source
        channel and stream."""
        return posixpath.join(posixpath.dirname(self.path), name)


def log_mounts(paths: tuple[str, ...], *, root: str) -> dict[str, str]:
    """Container directory -> host directory (`root/0`, `root/1` ... in order of first
    appearance) for the declared `paths` of one instance whose own directory is `root`."""
    return {directory: posixpath.join(root, str(n)) for n, directory in enumerate(log_dirs(paths))}


def declared_files(paths: tuple[str, ...], *, root: str) -> tuple[DeclaredFiles, ...]:
    mounts = log_mounts(paths, root=root)
    return tuple(
        DeclaredFiles(dir=mounts[directory], glob=name, path=path)
        for path in paths
        for directory, name in [split_log_path(path)]
    )


def log_labels(
    paths: tuple[str, ...], multiline: LogMultiline | None, *, root: str
) -> dict[str, str]:
    """The labels that tell the host agent about an instance's declared files (none without)."""
    labels = {}
    if paths:
        found = [asdict(files) for files in declared_files(paths, root=root)]
        labels[LABEL_LOG_PATHS] = json.dumps(found, separators=(",", ":"))
    if multiline is not None:
        labels[LABEL_LOG_MULTILINE] = json.dumps(asdict(multiline), separators=(",", ":"))
    return labels


def files_of_labels(labels: dict[str, str]) -> tuple[DeclaredFiles, ...]:
    """The declared files a container's labels name; Invalid if the label is malformed."""
    text = labels.get(LABEL_LOG_PATHS)
    if not text:
        return ()
    try:
        return tuple(DeclaredFiles(**entry) for entry in json.loads(text))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"label {LABEL_LOG_PATHS} is malformed: {exc}", field="labels") from exc


def multiline_of_labels(labels: dict[str, str]) -> LogMultiline | None:
    """The multi-line rule a container's labels name; Invalid if the label is malformed."""
    text = labels.get(LABEL_LOG_MULTILINE)
    if not text:
        return None
    try:
        return LogMultiline(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"label {LABEL_LOG_MULTILINE} is malformed: {exc}", field="labels") from exc
