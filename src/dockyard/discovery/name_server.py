"""`dockyard names`: PowerDNS's remote backend, kept current by the endpoint feed.

It answers from the last snapshot the feed gave, and keeps answering from it while the server
is away (the feed yields nothing then). Each snapshot is also written to disk, so a restart of
this process while the server is away answers at once from the last one it had, rather than
with nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path

from dockyard.discovery.dns_config import DnsLayout
from dockyard.discovery.feed import Feed
from dockyard.discovery.names import Zone
from dockyard.discovery.pdns_backend import RemoteBackend, serving_backend
from dockyard.discovery.snapshot import Snapshot, snapshot_from_json, snapshot_json
from dockyard.domain.errors import DockyardError

log = logging.getLogger("dockyard.discovery.names")


class NameServer:
    """Serves `layout.backend_socket` for PowerDNS from what `feed` says."""

    def __init__(self, feed: Feed, *, zone: Zone, layout: DnsLayout) -> None:
        self._feed = feed
        self._zone = zone
        self._layout = layout
        self.snapshot: Snapshot | None = None
        self.serving = asyncio.Event()
        """Set once the backend socket listens."""

    async def run(self) -> None:
        """Serve until cancelled."""
        self.snapshot = load_snapshot(self._layout.snapshot_file)
        if self.snapshot is not None:
            log.info(
                "answering from the stored snapshot %s until the feed speaks", self.snapshot.version
            )
        backend = RemoteBackend(self._zone, lambda: self.snapshot)
        socket = self._layout.backend_socket
        async with (
            serving_backend(backend, socket),
            contextlib.aclosing(self._feed.follow()) as snapshots,
        ):
            self.serving.set()
            log.info("names of %s served on %s", self._zone.name, socket)
            async for snapshot in snapshots:
                self.snapshot = snapshot
                log.info(
                    "snapshot %s: %d routes, %d instance addresses",
                    snapshot.version, len(snapshot.routes), len(snapshot.callers),
                )  # fmt: skip
                await asyncio.to_thread(store_snapshot, self._layout.snapshot_file, snapshot)


def load_snapshot(path: Path) -> Snapshot | None:
    """The snapshot stored at `path`, or None if there is none readable (said in the log)."""
    try:
        return snapshot_from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, DockyardError) as exc:
        log.warning("ignoring the stored snapshot %s: %s", path, exc)
        return None


def store_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write `snapshot` to `path` atomically (a reader never sees half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(snapshot_json(snapshot)))
    os.replace(temporary, path)
