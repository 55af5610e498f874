"""Stands in for `dockyard server` in the `up`/`down` tests: answers /healthz(/parts); at its first
start writes the local credentials file as the real server does. Run as a script.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIRST_TOKEN = "dy_first_admin_token"


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        answers = {
            "/healthz": {"status": "ok"},
            "/healthz/parts": {
                "database": "ok",
                "engine": "ok",
                "controller": "ok",
                "builder": "ok",
                "leading": True,
                "leader": "this server (single server: no election)",
            },
        }
        body = json.dumps(answers.get(self.path, {"error": "not_found"})).encode()
        self.send_response(200 if self.path in answers else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write("request " + format % args + "\n")


def main() -> None:
    port = int(os.environ["DOCKYARD_LISTEN_PORT"])
    credentials = Path(os.environ["DOCKYARD_CREDENTIALS_FILE"])
    if not credentials.exists():
        credentials.write_text(
            json.dumps({"url": f"http://127.0.0.1:{port}", "token": FIRST_TOKEN})
        )
    ThreadingHTTPServer(("127.0.0.1", port), Health).serve_forever()


if __name__ == "__main__":
    main()
