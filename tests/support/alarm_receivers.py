"""Real receivers on loopback for alarm tests: an HTTP server that answers each POST from a
script (e.g. 500, 500, then 200) and keeps what it was sent, and Debian's aiosmtpd as an SMTP
server writing to a Maildir. Each listens on a port the test owns and is stopped afterwards."""

from __future__ import annotations

import json
import mailbox
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.nats import free_port

SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class ScriptedReceiver:
    """Answers the n-th POST with `script[n]`, and 200 once the script is used up; keeps
    every request's path and body in `received`, in order."""

    def __init__(self, script: Sequence[Answer] = ()) -> None:
        self.script = list(script)
        self.received: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def json_bodies(self) -> list[Any]:
        with self._lock:
            return [json.loads(body) for _, body in self.received]

    def __enter__(self) -> ScriptedReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, path: str, body: bytes) -> Answer:
        with self._lock:
            self.received.append((path, body))
            return self.script.pop(0) if self.script else Answer(200, body=b"ok")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                answer = receiver._answer(self.path, self.rfile.read(length))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *_: object) -> None:
                pass

        return Handler


def aiosmtpd_missing() -> str | None:
    """Why no SMTP server can run here, or None."""
    if shutil.which(SYSTEM_PYTHON) is None:
        return f"{SYSTEM_PYTHON} is absent"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import aiosmtpd"], check=False, capture_output=True
    )
    return (
        None if probe.returncode == 0 else "aiosmtpd is absent (apt-get install python3-aiosmtpd)"
    )


@contextmanager
def smtp_server(maildir: Path) -> Iterator[tuple[int, mailbox.Maildir]]:
    """aiosmtpd on a free loopback port, delivering into `maildir`; stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [SYSTEM_PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, process)
        yield port, mailbox.Maildir(maildir)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aiosmtpd exited: {process.stderr and process.stderr.read()!r}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"aiosmtpd did not listen on {port} within {wait_s:g} s")
