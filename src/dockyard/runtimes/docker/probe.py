"""Health probes against a running container: an HTTP GET or a TCP connect on its IP, or a
command run inside.

All are bounded by the check's timeout and report failure as a ProbeResult, never by raising:
a probe that cannot reach the instance is an unhealthy instance, not an error of the caller.
Only an engine that does not answer at all raises (Unavailable), from the exec calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import docker
import httpx

from dockyard.domain.errors import Conflict, NotFound
from dockyard.runtimes.base import ProbeResult

T = TypeVar("T")
# Exec state is polled: fast at first (most checks finish in tens of ms), then gentler.
FIRST_POLL_S = 0.02
MAX_POLL_S = 0.2


class EngineCall(Protocol):
    """Runs `fn(client)` in a worker thread, translating engine errors (the driver's `_call`)."""

    def __call__(self, action: str, fn: Callable[[docker.APIClient], T], /) -> Awaitable[T]: ...


def _url(ip: str, port: int, path: str) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}{path}"


async def http_probe(
    ip: str | None, *, port: int | None, path: str, timeout_s: float
) -> ProbeResult:
    """GET http://ip:port/path; a 2xx or 3xx answer within `timeout_s` is healthy."""
    if ip is None:
        return ProbeResult(ok=False, detail="instance has no IP address (is it running?)")
    if port is None:
        return ProbeResult(ok=False, detail="HTTP check has no port: set health_check.port")
    url = _url(ip, port, path)
    # A client per probe: never a stale pooled connection to an address a replaced container
    # now holds. verify=False only skips loading the CA bundle (18 ms a client): the URL is plain
    # http. trust_env=False keeps proxy settings out of probes of container addresses.
    async with httpx.AsyncClient(
        timeout=timeout_s,
        trust_env=False,
        verify=False,  # noqa: S501
        follow_redirects=False,
    ) as client:
        try:
            async with asyncio.timeout(timeout_s):
                response = await client.get(url)
        except (httpx.HTTPError, TimeoutError) as exc:
            return ProbeResult(ok=False, detail=f"GET {url} failed: {type(exc).__name__} {exc}")
    ok = 200 <= response.status_code < 400
    return ProbeResult(ok=ok, detail=f"GET {url} -> {response.status_code}")


async def tcp_probe(ip: str | None, *, port: int | None, timeout_s: float) -> ProbeResult:
    """Connect to ip:port; a connection accepted within `timeout_s` is healthy (closed at once)."""
    if ip is None:
        return ProbeResult(ok=False, detail="instance has no IP address (is it running?)")
    if port is None:
        return ProbeResult(ok=False, detail="TCP check has no port")
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(ip, port)
    except (OSError, TimeoutError) as exc:
        return ProbeResult(
            ok=False, detail=f"TCP connect to {ip}:{port} failed: {type(exc).__name__} {exc}"
        )
    writer.close()
    # The peer may reset the connection at once; that does not make the port closed.
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(ok=True, detail=f"TCP connect to {ip}:{port} accepted")


async def command_probe(
    call: EngineCall, container_id: str, *, command: tuple[str, ...], timeout_s: float
) -> ProbeResult:
    """Run `command` in the container; exit code 0 within `timeout_s` is healthy.

    The exec is started detached and polled, so no worker thread waits on a hung command; a
    command still running at the deadline is reported unhealthy and left to finish on its own.
    """

    def start(client: docker.APIClient) -> str:
        created = client.exec_create(container_id, list(command), stdout=False, stderr=False)
        client.exec_start(created["Id"], detach=True)
        return str(created["Id"])

    try:
        async with asyncio.timeout(timeout_s):
            exec_id = await call("start health check command", start)
            code = await _wait_for_exit(call, exec_id)
    except TimeoutError:
        return ProbeResult(ok=False, detail=f"command did not finish within {timeout_s:g} s")
    except (Conflict, NotFound) as exc:
        # The container stopped or vanished: unhealthy, which the controller handles.
        return ProbeResult(ok=False, detail=exc.message)
    return ProbeResult(ok=code == 0, detail=f"command exited with {code}")


async def _wait_for_exit(call: EngineCall, exec_id: str) -> int:
    delay = FIRST_POLL_S
    while True:
        state: dict[str, Any] = await call(
            "read health check result", lambda client: client.exec_inspect(exec_id)
        )
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_POLL_S)
