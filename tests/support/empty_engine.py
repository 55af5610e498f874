"""A Docker Engine API that runs nothing, on a unix socket: for a real `dockyard server` that must
not touch the machine's engine (the API fuzzer's).

It answers `/_ping` and `/version`, lists no containers, and refuses every other call with a
503 and Docker's JSON error shape, as an engine does when it cannot act. A server pointed at
it serves its whole API (`ipam check` included: it compares with no instances) while its
controllers start nothing and, seeing no containers, remove nothing: the shared engine's
containers, which a server with its own database would take for orphans, stay out of reach.
"""

from __future__ import annotations

import contextlib
import json
import re
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

API_VERSION = "1.41"
_VERSIONED = re.compile(r"^/v[0-9.]+(/.*)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket has no peer address to log
        return "engine-client"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        versioned = _VERSIONED.match(path)
        path = versioned.group(1) if versioned else path
        if path == "/_ping":
            self._answer(200, "OK")
        elif path == "/version":
            self._answer(200, {"ApiVersion": API_VERSION, "Version": "0-empty", "Os": "linux"})
        elif self.command == "GET" and path == "/containers/json":
            self._answer(200, [])
        else:
            self._answer(503, {"message": "this engine runs nothing (a test double)"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route  # noqa: N815 (http.server names)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def empty_engine(socket_path: Path) -> Iterator[str]:
    """Serve the empty engine at `socket_path` until the block ends; yields its DOCKER_HOST."""
    server = _Server(str(socket_path), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{socket_path}"
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)
