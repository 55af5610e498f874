"""Segment networks the reconciler makes sure of before starting instances on them.

The agent makes each segment's Docker network on its host every pass; the reconciler makes sure
of it too, right before first use in a pass, so an instance of a segment created a moment ago
does not fail for a network the agent has not made yet. Only plain-bridge networks, though: a
VLAN segment's bridge is attached to a sub-interface of the uplink with netlink calls on the
engine's own host, which only that host's agent can make (the engine may be remote), so for
those the reconciler only checks the agent has made it. Kubernetes and the fake runtime need
nothing of the kind: the reconciler is then given no `SegmentNetworks` at all.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

import docker
from docker.errors import NotFound

from dockyard.domain.errors import RuntimeFailure
from dockyard.domain.segment import Segment
from dockyard.network.segment_networks import IPAM_DRIVER, ensure_segment_network
from dockyard.runtimes.docker.lanes import Lanes
from dockyard.runtimes.docker.translate import engine_errors

NETWORK_THREADS = 4
"""Segment networks made at once (one per segment and pass is asked for)."""


class SegmentNetworks(Protocol):
    async def ensure(self, segment: Segment) -> None:
        """Return once the segment's network exists where instances start.

        Raises Unavailable if the engine does not answer (every segment would fail alike);
        another DockyardError if this segment's network cannot be made (VlanUnsupported, an
        engine refusal): the caller tries another segment.
        """


class DockerSegmentNetworks:
    """`ensure_segment_network` on one engine, its errors in Dockyard's vocabulary."""

    def __init__(
        self,
        *,
        base_url: str,
        driver: str = IPAM_DRIVER,
        timeout_s: float = 30.0,
        host: str | None = None,
    ) -> None:
        self._base_url = base_url
        self._host = host
        self._driver = driver
        self._timeout_s = timeout_s
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._lanes = Lanes({"engine": NETWORK_THREADS})

    async def ensure(self, segment: Segment) -> None:
        # Its own threads, not the loop's default executor: with the IPAM driver gone, making
        # a network waits as long as the engine retries the driver (runtimes/docker/lanes.py).
        pool = self._lanes.get("engine")
        await asyncio.get_running_loop().run_in_executor(pool, self._ensure, segment)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            self._lanes.close()

    def _ensure(self, segment: Segment) -> None:
        action = f"make the network of segment {segment.name}"
        with engine_errors(self._base_url, action, host=self._host):
            if segment.vlan is None:
                ensure_segment_network(self._connect(), segment, driver=self._driver)
                return
            try:
                self._connect().inspect_network(segment.docker_network)
            except NotFound:
                raise RuntimeFailure(
                    f"the network {segment.docker_network} of VLAN segment {segment.name} is "
                    "not made yet: the agent on the engine's host makes it (it attaches VLAN "
                    f"{segment.vlan} to its bridge); check that it runs and that its log shows "
                    "no refusal for this segment",
                    field="segment",
                ) from None

    def _connect(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                # version="auto" asks the engine, so a down engine fails here (-> Unavailable).
                self._client = docker.APIClient(
                    base_url=self._base_url, version="auto", timeout=self._timeout_s
                )
            return self._client
