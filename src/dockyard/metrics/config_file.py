"""Configuration files written whole or not at all: what Prometheus and Alertmanager read.

Prometheus watches its target files and may read one at any moment, so a file is never
written in place: the text goes to a temporary file beside it, which is renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_if_changed(path: Path, text: str) -> bool:
    """Make `path` hold `text` (its directory made if missing); True if it changed.

    After success the file holds `text` entirely; after a failure it holds what it held
    before, and no temporary file is left behind.
    """
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a Prometheus user may read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
