"""Serving a process's metrics as Prometheus text over HTTP (GET /metrics, any path answers),
on the address its settings give (DOCKYARD_AGENT_METRICS_ADDR, ...), for Prometheus to scrape.

The server is prometheus-client's own (a thread). An address already taken is logged and tried
again later rather than ending the process: logs and counting matter more than one scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from dockyard.domain.errors import Invalid

log = logging.getLogger("dockyard.metrics")

RETRY_S = 30.0


def parse_addr(text: str) -> tuple[str, int]:
    """(host, port) of `HOST:PORT` (`[::1]:9465` for IPv6); Invalid otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise Invalid(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9465)")
    return host, int(port)


def registry_of(*collectors: Collector) -> CollectorRegistry:
    """A registry with `collectors` and the process's own CPU, memory and file figures
    (`process_*`, labelled by nothing: the scrape target says which process)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


async def serve(
    addr: str,
    registry: CollectorRegistry,
    *,
    retry_s: float = RETRY_S,
    bound: Callable[[str, int], None] | None = None,
) -> None:
    """Serve `registry` on `addr` until cancelled; an empty `addr` serves nothing (and waits).
    A port in use is logged and tried again every `retry_s`. `bound(host, port)` is told the
    address once listening (port 0 picks a free one)."""
    if not addr:
        await asyncio.Event().wait()
    host, port = parse_addr(addr)
    while True:
        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
            break
        except OSError as exc:
            log.error("metrics cannot listen addr=%s error=%s (retrying in %g s)", addr, exc,
                      retry_s)  # fmt: skip
            await asyncio.sleep(retry_s)
    try:
        actual = server.server_address[1]
        log.info("metrics served addr=%s:%d", host, actual)
        if bound is not None:
            bound(host, int(actual))
        await asyncio.Event().wait()
    finally:
        await asyncio.to_thread(_stop, server)
        thread.join(timeout=5)


def _stop(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()
