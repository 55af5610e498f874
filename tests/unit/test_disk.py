"""A full disk is recognised whichever layer reports it (SQLite, PostgreSQL, a file write), and
becomes DiskFull naming the disk, which the API answers with 507."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import psycopg
import pytest

from dockyard.api.errors import status_for
from dockyard.domain.errors import DiskFull
from dockyard.store.disk import disk_full, is_disk_full, writing


def _sqlite_error(code: int, text: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(text)
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (_sqlite_error(sqlite3.SQLITE_FULL, "database or disk is full"), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (_sqlite_error(sqlite3.SQLITE_BUSY, "database is locked"), False),
        (psycopg.errors.DiskFull("could not extend file"), True),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ValueError("database or disk is full"), False),
    ],
)
def test_disk_full_is_recognised_from_each_layer(error: Exception, full: bool) -> None:
    assert is_disk_full(error) is full


def test_disk_full_names_the_disk_and_what_to_do_and_answers_507() -> None:
    error = disk_full("/var/lib/dockyard/dockyard.db")
    assert "/var/lib/dockyard/dockyard.db" in error.message
    assert "free space" in error.message
    assert status_for(error) == 507


def test_a_file_write_out_of_space_raises_disk_full_naming_the_place(tmp_path: Path) -> None:
    with pytest.raises(DiskFull, match=str(tmp_path)), writing(tmp_path):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError), writing(tmp_path):
        raise PermissionError(errno.EACCES, "Permission denied")
