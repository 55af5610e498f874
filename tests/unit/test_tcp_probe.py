"""The TCP readiness probe against real loopback sockets: accepted is ready, refused is not."""

from __future__ import annotations

import asyncio
import socket

from dockyard.runtimes.docker.probe import tcp_probe


async def test_a_listening_port_is_ready() -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await tcp_probe("127.0.0.1", port=port, timeout_s=1)
    assert result.ok, result.detail


async def test_a_port_nobody_listens_on_is_not_ready() -> None:
    with socket.socket() as holder:  # bound, never listening: connects are refused
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        result = await tcp_probe("127.0.0.1", port=port, timeout_s=1)
    assert not result.ok
    assert f"127.0.0.1:{port}" in result.detail


async def test_no_address_or_no_port_is_not_ready() -> None:
    assert not (await tcp_probe(None, port=80, timeout_s=1)).ok
    assert not (await tcp_probe("127.0.0.1", port=None, timeout_s=1)).ok
