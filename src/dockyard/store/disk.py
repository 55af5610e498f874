"""A full disk in Dockyard's words: the one place where SQLite's SQLITE_FULL, PostgreSQL's
SQLSTATE 53100 and an OSError ENOSPC or EDQUOT of a file write become `DiskFull`."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.domain.errors import DiskFull

_SQLITE_FULL_TEXT = "database or disk is full"
_POSTGRES_DISK_FULL = "53100"
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (a DB-API error, or an OSError) says a disk has no space left."""
    if isinstance(exc, OSError):
        return exc.errno in _NO_SPACE
    if isinstance(exc, sqlite3.Error):
        # The primary code is the low byte (extended codes carry more in the high bytes).
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or (
            _SQLITE_FULL_TEXT in str(exc)
        )
    return getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL


def disk_full(where: str) -> DiskFull:
    """The error for a full disk holding `where` (a path, or the database server's name)."""
    return DiskFull(
        f"the disk holding {where} is full: nothing was written, and what was written before "
        "is intact; free space on that disk (old logs, images, build contexts), then retry: "
        "writes work again at once, without a restart, and reads work meanwhile"
    )


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """File writes under `path`: a disk that has no space left raises DiskFull naming `path`;
    other OSErrors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(str(path)) from exc
