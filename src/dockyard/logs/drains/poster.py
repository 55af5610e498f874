"""One HTTP(S) client per HTTP-based drain (NDJSON, OTLP): POSTs a body and returns only once
the destination answered 2xx. The one place httpx errors become Dockyard's."""

from __future__ import annotations

import httpx

from dockyard.domain.drain import DrainSpec
from dockyard.domain.errors import Unavailable
from dockyard.logs.drains.tls import client_context

TIMEOUT_S = 30.0
SHOWN_BODY = 200
"""Characters of a refusal's body kept in the drain's last error."""


class Poster:
    """POSTs to `url` with the drain's headers (tokens) plus `content_type`."""

    def __init__(self, spec: DrainSpec, url: str, *, content_type: str) -> None:
        verify = client_context(spec) if spec.tls else True
        headers = {**dict(spec.headers), "Content-Type": content_type}
        self._client = httpx.AsyncClient(headers=headers, verify=verify, timeout=TIMEOUT_S)
        self._url = url

    async def post(self, body: bytes) -> None:
        """Return once the destination answered 2xx; Unavailable if it did not (down, slow,
        or refused: the lines stay in the stream and are offered again)."""
        try:
            answer = await self._client.post(self._url, content=body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise Unavailable(f"drain {self._url} cannot be reached ({exc!r})") from exc
        if not answer.is_success:
            text = answer.text[:SHOWN_BODY].strip()
            raise Unavailable(f"drain {self._url} answered {answer.status_code}: {text}")

    async def close(self) -> None:
        await self._client.aclose()
