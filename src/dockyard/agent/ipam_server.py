"""The agent's Docker IPAM driver endpoint: JSON over HTTP on a unix socket Docker finds by name
(/run/docker/plugins/NAME.sock), answered by network/ipam/docker_driver.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dockyard.network.ipam.docker_driver import DockerIpamDriver

log = logging.getLogger("dockyard.agent.ipam")

PLUGIN_MEDIA_TYPE = "application/vnd.docker.plugins.v1+json"


def driver_app(driver: DockerIpamDriver) -> Starlette:
    """POST /Plugin.Activate, /IpamDriver.RequestAddress, ... -> the driver's JSON answer."""

    async def call(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse(
                {"Err": "the request body is not JSON"}, media_type=PLUGIN_MEDIA_TYPE
            )
        answer = await driver.handle(
            request.path_params["call"], body if isinstance(body, dict) else {}
        )
        return JSONResponse(answer, media_type=PLUGIN_MEDIA_TYPE)

    return Starlette(routes=[Route("/{call}", call, methods=["POST"])])


class DriverServer:
    """Serves the driver on `socket` until stopped; removes a stale socket file first."""

    def __init__(self, driver: DockerIpamDriver, *, socket: Path) -> None:
        self.socket = socket
        config = uvicorn.Config(
            driver_app(driver),
            uds=str(socket),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Return once the socket accepts connections."""
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self._task = asyncio.create_task(self._server.serve(), name="ipam-driver")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError(f"the IPAM driver did not start on {self.socket}")
            await asyncio.sleep(0.01)
        log.info("ipam driver serving socket=%s", self.socket)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.socket.unlink(missing_ok=True)
