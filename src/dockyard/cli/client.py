"""The HTTP client of the REST API (docs/api.md): the one place API and network errors become
one-line messages (`CliError`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import quote

import httpx

from dockyard.cli.errors import CliError
from dockyard.domain.sse import Event, parse_events

API_PREFIX = "/api/v1"
TIMEOUT_S = 10.0
# Live streams send a keep-alive comment every 15 s: silence this long means the stream is cut.
STREAM_READ_S = 60.0


def api_path(*segments: str) -> str:
    """`/seg/seg/...` with every segment escaped, so a name can never reach another route."""
    return "".join(f"/{quote(segment, safe='')}" for segment in segments)


class ApiClient:
    """Calls one Dockyard server with one bearer token; answers are the decoded JSON bodies.

    Every failure raises CliError: an API error carries the server's own message; a server that
    cannot be reached says so and how to start it.
    """

    def __init__(
        self, url: str, token: str | None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=TIMEOUT_S, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        return self._call("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json=body)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, json=body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def events(self, path: str, *, params: dict[str, Any] | None = None) -> Iterator[Event]:
        """The server-sent events of a GET under /api/v1, as they arrive, until the server
        ends the stream (or the caller stops iterating). Errors as for `get`."""
        with self._stream(path, params=params) as response:
            yield from parse_events(response.iter_lines())

    def download(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        into: IO[bytes],
        progress: Callable[[int], None] = lambda _bytes: None,
    ) -> int:
        """Write the body of a GET under /api/v1 to `into` as it arrives; the byte count.
        `progress` is called with the bytes received so far."""
        received = 0
        with self._stream(path, params=params) as response:
            for chunk in response.iter_bytes():
                into.write(chunk)
                received += len(chunk)
                progress(received)
        return received

    @contextlib.contextmanager
    def _stream(self, path: str, *, params: dict[str, Any] | None) -> Iterator[httpx.Response]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeout = httpx.Timeout(TIMEOUT_S, read=STREAM_READ_S)
        try:
            with self._http.stream(
                "GET", API_PREFIX + path, params=query or None, timeout=timeout
            ) as response:
                if response.is_error:
                    response.read()
                    raise CliError(self._error_message(response))
                yield response
        except httpx.ConnectError:
            raise CliError(
                f"cannot reach Dockyard at {self.url}: is it running? start it with `dockyard up`"
            ) from None
        except httpx.TimeoutException:
            raise CliError(
                f"Dockyard at {self.url} sent nothing for {STREAM_READ_S:g} s: the stream was "
                "cut; run the command again"
            ) from None
        except httpx.HTTPError as exc:
            raise CliError(f"stream from Dockyard at {self.url} failed: {exc}") from None

    def probe(self, path: str = "/healthz") -> tuple[int, Any]:
        """Status and body of an unauthenticated GET outside /api/v1 (`/healthz`,
        `/healthz/parts`), whatever the status; CliError only if the server is unreachable.
        """
        response = self._send("GET", path)
        return response.status_code, _json_or_none(response)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, API_PREFIX + path, **kwargs)
        if response.is_error:
            raise CliError(self._error_message(response))
        return _json_or_none(response)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = {k: v for k, v in (kwargs.pop("params", None) or {}).items() if v is not None}
        try:
            return self._http.request(method, path, params=params or None, **kwargs)
        except httpx.ConnectError:
            raise CliError(
                f"cannot reach Dockyard at {self.url}: is it running? start it with `dockyard up`"
            ) from None
        except httpx.TimeoutException:
            raise CliError(
                f"Dockyard at {self.url} did not answer within {TIMEOUT_S:g} s: "
                "check `dockyard status` and try again"
            ) from None
        except httpx.HTTPError as exc:
            raise CliError(f"request to Dockyard at {self.url} failed: {exc}") from None

    def _error_message(self, response: httpx.Response) -> str:
        body = _json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message: str = body["message"]
        else:
            reason = response.reason_phrase or "error"
            message = (
                f"Dockyard answered HTTP {response.status_code} {reason} to "
                f"{response.request.method} {response.request.url.path}"
            )
        if response.status_code == httpx.codes.UNAUTHORIZED and not self.token:
            message += (
                " (no token is configured: run `dockyard login URL --token TOKEN` "
                "or set DOCKYARD_TOKEN)"
            )
        return message


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
