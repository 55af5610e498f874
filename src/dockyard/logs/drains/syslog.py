"""Syslog drains: each line as one RFC 5424 message, framed by octet counting (RFC 6587 3.4.1,
`LEN SP MSG`), written over one TCP or TLS connection kept open between sends.

HOSTNAME is the instance, APP-NAME the service, MSGID the stream (stdout, stderr, or `file` for
a declared log file), severity from the line's level (facility user); team, environment, host
and line number go in one structured-data element, `dockyard@32473` (32473 is the enterprise
number RFC 5612 sets aside for examples: Dockyard has none of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from dockyard.domain.drain import DrainSpec
from dockyard.domain.errors import Unavailable
from dockyard.logs.drains.level import SYSLOG_SEVERITY, line_level
from dockyard.logs.drains.tls import client_context
from dockyard.logs.record import Batch, Line, Source

FACILITY_USER = 1
BOM = "\ufeff"  # RFC 5424 6.4: a UTF-8 MSG starts with the byte order mark
SD_ID = "dockyard@32473"
CONNECT_TIMEOUT_S = 10.0
WRITE_TIMEOUT_S = 30.0


def frame(source: Source, line: Line) -> bytes:
    """One line as an octet-counted RFC 5424 message."""
    severity = SYSLOG_SEVERITY[line_level(line.text)]
    stamp = datetime.fromtimestamp(line.time_ns // 1000 / 1e6, UTC)
    header = " ".join(
        (
            f"<{FACILITY_USER * 8 + severity}>1",
            stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            _token(source.instance, 255),
            _token(source.service, 48),
            "-",
            _token(line.stream if line.stream in ("stdout", "stderr") else "file", 32),
        )
    )
    params = {"team": source.team, "env": str(source.env), "host": source.host, "seq": line.seq}
    data = " ".join(f'{name}="{_param(str(value))}"' for name, value in params.items())
    message = f"{header} [{SD_ID} {data}] {BOM}{line.text}".encode()
    return f"{len(message)} ".encode() + message


def _token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit`, "-" if empty."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return cleaned or "-"


def _param(value: str) -> str:
    """An SD-PARAM value: '"', '\\' and ']' escaped (RFC 5424 6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


class SyslogDestination:
    """Writes frames to syslog://HOST:PORT (TCP) or syslog+tls://HOST:PORT.

    `send` returns once every frame was handed to the kernel (TCP has no acknowledgement of its
    own: what the receiver has not read when the connection breaks may be lost; the next send
    connects again). Raises Unavailable when the destination cannot be reached or written to.
    """

    def __init__(self, spec: DrainSpec) -> None:
        parts = urlsplit(spec.url)
        self._host, self._port = parts.hostname or "", parts.port or 0
        self._tls: ssl.SSLContext | None = client_context(spec) if spec.tls else None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._url = spec.url

    async def send(self, batches: Sequence[Batch]) -> None:
        payload = b"".join(frame(b.source, line) for b in batches for line in b.lines)
        writer = await self._connection()
        try:
            writer.write(payload)
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise Unavailable(f"syslog drain {self._url} stopped taking lines ({exc!r})") from exc

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def _connection(self) -> asyncio.StreamWriter:
        # A receiver that closed its end shows as end-of-file on ours (it never writes): connect
        # again rather than write into a connection whose lines would be lost.
        alive = self._reader is not None and not self._reader.at_eof()
        if self._writer is not None and alive and not self._writer.is_closing():
            return self._writer
        await self.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port, ssl=self._tls), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            raise Unavailable(f"syslog drain {self._url} cannot be reached ({exc!r})") from exc
        self._reader, self._writer = reader, writer
        return writer
