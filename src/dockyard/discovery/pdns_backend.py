"""PowerDNS's remote backend, answered from the last feed snapshot: the thin adapter between
pdns_server (authoritative for the zone, `launch=remote`, unix connector) and discovery/names.py.

pdns sends one JSON object per request ({"method", "parameters"}) on a unix socket and reads
one JSON object back per request ({"result": ...}); a method this backend does not serve gets
`{"result": false}`, which pdns reads as "nothing here". The caller's own address comes as
`real-remote` (the EDNS client subnet dnsmasq adds, with pdns' edns-subnet-processing on);
`remote` is only dnsmasq's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from dockyard.discovery.names import Zone, answer
from dockyard.discovery.snapshot import Snapshot

MAX_REQUEST_BYTES = 64 * 1024
log = logging.getLogger("dockyard.discovery.names")


class RemoteBackend:
    """Answers pdns' requests from whatever snapshot `current` returns (None before the
    first: every name but the zone's own is then unknown)."""

    def __init__(self, zone: Zone, current: Callable[[], Snapshot | None]) -> None:
        self._zone = zone
        self._current = current

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The reply to one request."""
        method = request.get("method")
        parameters = request.get("parameters") or {}
        if method == "initialize":
            return {"result": True}
        if method == "lookup" and isinstance(parameters, Mapping):
            return self._lookup(parameters)
        if method == "getAllDomainMetadata":
            return {"result": {}}
        if method == "getDomainMetadata":
            return {"result": []}
        return {"result": False}

    def _lookup(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        qname = str(parameters.get("qname", ""))
        snapshot = self._current() or Snapshot(routes={}, callers={}, version="")
        found = answer(
            self._zone,
            snapshot,
            qname=qname,
            qtype=str(parameters.get("qtype", "ANY")),
            caller=caller_address(parameters),
        )
        if not found:
            return {"result": False}
        return {
            "result": [
                {
                    "qtype": r.qtype,
                    "qname": qname,
                    "content": r.content,
                    "ttl": r.ttl_s,
                    "auth": True,
                }
                for r in found
            ]
        }


def caller_address(parameters: Mapping[str, Any]) -> str | None:
    """The asking client's address: `real-remote` (its EDNS client subnet, "10.1.0.2/32"),
    else `remote`."""
    raw = parameters.get("real-remote") or parameters.get("remote")
    if not isinstance(raw, str) or not raw:
        return None
    return raw.split("/", 1)[0]


@contextlib.asynccontextmanager
async def serving_backend(backend: RemoteBackend, path: Path) -> AsyncIterator[None]:
    """Listen for pdns on the unix socket `path` (replacing a stale one), in a folder only
    its owner may enter, until the block ends; then every open connection is closed too."""
    await asyncio.to_thread(_make_room, path)
    connections: set[asyncio.Task[Any]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _connection(backend, reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_unix_server(connected, path=str(path))
    try:
        async with server:
            yield
    finally:
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


def _make_room(path: Path) -> None:
    # Only its owner (root, as PowerDNS runs) may talk to the backend: new sockets are 0600.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)


async def _connection(
    backend: RemoteBackend, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one pdns connection: each JSON object read is answered by one line."""
    decoder, buffer = json.JSONDecoder(), ""
    try:
        while chunk := await reader.read(MAX_REQUEST_BYTES):
            buffer += chunk.decode(errors="replace")
            while buffer.strip():
                try:
                    request, end = decoder.raw_decode(buffer.lstrip())
                except ValueError:
                    if len(buffer) > MAX_REQUEST_BYTES:
                        log.warning("dropping a pdns connection: an unreadable request")
                        return
                    break  # the rest of the object has not come yet
                buffer = buffer.lstrip()[end:]
                reply = backend.handle(request) if isinstance(request, dict) else {"result": False}
                writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # pdns went away: it opens a new connection when it needs one
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
