"""The declared log files of one container, as the agent's log part finds them on this host: the
labels the runtime wrote (domain/logfiles.py) name a host directory and a file-name pattern per
declared path; each file matching it there is one source, whose channel (and its lines' stream)
is the file's path inside the container.

A file renamed by rotation (`app.log` -> `app.log.1`, or `app.log-2024...`) is read by the
source of the name it rotated from (logs/tail.py follows a path through its renames), so it is
never a source of its own, even when the pattern matches it too.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dockyard.domain.logfiles import DeclaredFiles, LogMultiline
from dockyard.logs.multiline import MultilineRule
from dockyard.logs.record import Source
from dockyard.logs.tail import COMPRESSED

log = logging.getLogger("dockyard.agent.logs")

MAX_FILES = 64
"""Files followed per declared path at most: a service writing a new file per request must not
make the agent open thousands (the rest wait until older ones are gone)."""


def rule_of(multiline: LogMultiline | None) -> MultilineRule | None:
    """The reader's multi-line rule for a service's (already validated) LogMultiline."""
    if multiline is None:
        return None
    return MultilineRule(
        start=re.compile(multiline.start),
        max_bytes=multiline.max_bytes,
        max_wait_s=multiline.max_wait_s,
    )


def split_under(
    declared: tuple[DeclaredFiles, ...], root: Path
) -> tuple[tuple[DeclaredFiles, ...], tuple[DeclaredFiles, ...]]:
    """(inside, outside): the declared files whose directory is strictly under `root` (links
    resolved), where the runtime makes them, and the others, which a container's labels must
    not make the agent read (a host's /etc, another instance's files)."""
    top = os.path.realpath(root)
    inside: list[DeclaredFiles] = []
    outside: list[DeclaredFiles] = []
    for files in declared:
        real = os.path.realpath(files.dir)
        under = real != top and os.path.commonpath([top, real]) == top
        (inside if under else outside).append(files)
    return tuple(inside), tuple(outside)


@dataclass(frozen=True)
class Found:
    """One declared file present on the host: its source and where it is."""

    source: Source
    path: str


def rotated(name: str, others: Iterable[str]) -> bool:
    """True if `name` is a rotated generation of one of `others` (`NAME.*` or `NAME-*`), or a
    compressed copy: it is read as part of that one's source, or not at all."""
    if name.endswith(COMPRESSED):
        return True
    return any(name != o and name.startswith((o + ".", o + "-")) for o in others)


def found_files(
    declared: DeclaredFiles, base: Source, *, followed: Iterable[str] = ()
) -> list[Found]:
    """The files in `declared.dir` matching its pattern, but rotated ones: of the names present
    and of the channels already `followed` (a rotated file whose origin is not recreated yet is
    still that origin's). Sorted by name; [] if the directory is gone."""
    try:
        names = sorted(os.listdir(declared.dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    known = set(names) | {channel.rsplit("/", 1)[-1] for channel in followed}
    found: list[Found] = []
    for name in names:
        if not fnmatch.fnmatchcase(name, declared.glob) or rotated(name, known):
            continue
        full = os.path.join(declared.dir, name)
        if not os.path.isfile(full):
            continue
        channel = declared.channel(name)
        source = Source(base.team, base.service, base.env, base.instance, channel, base.host)
        if len(found) == MAX_FILES:
            log.warning("logs: more than %d files match %s, the rest wait instance=%s",
                        MAX_FILES, declared.path, base.instance)  # fmt: skip
            break
        found.append(Found(source, full))
    return found
