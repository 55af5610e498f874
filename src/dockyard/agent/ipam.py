"""The agent's IPAM side on one host: serve Docker's IPAM driver, keep a Docker network per
segment, and collect addresses whose owner is gone.

One pass every `interval_s`, level-triggered: read the segments from etcd, make each one's
Docker network if missing (a VLAN segment on a kernel without 802.1Q is skipped with its
reason logged), read its endpoints from the engine, judge this host's leases
(network/ipam/collector.py) and release or bind what the verdict says. An etcd or engine error
ends the pass, never the agent: the next pass tries again, and the driver keeps answering
(with "IPAM unavailable" while etcd is down).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException

from dockyard.agent.ipam_server import DriverServer
from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.domain.instance import LABEL_ENV, LABEL_INSTANCE, LABEL_SERVICE, LABEL_TEAM
from dockyard.domain.segment import Segment
from dockyard.network.ipam.client import Ipam
from dockyard.network.ipam.collector import Endpoint, MissingSince, judge
from dockyard.network.ipam.docker_driver import ContainerInfo, DockerIpamDriver
from dockyard.network.segment_networks import (
    IPAM_DRIVER,
    VlanUnsupported,
    ensure_segment_network,
    segment_endpoints,
)

log = logging.getLogger("dockyard.agent.ipam")


@dataclass(frozen=True)
class IpamAgentConfig:
    host: str
    socket: Path
    driver_name: str = IPAM_DRIVER
    """The plugin name Docker knows the driver by; its socket is /run/docker/plugins/NAME.sock."""
    grace: timedelta = timedelta(seconds=60)
    interval_s: float = 10.0


class IpamAgent:
    """Runs until cancelled. `run_pass` is one pass, for tests and `dockyard agent --once`."""

    def __init__(
        self, ipam: Ipam, engine: docker.APIClient, *, config: IpamAgentConfig, clock: Clock
    ) -> None:
        self.ipam = ipam
        self._engine = engine
        self._config = config
        self._clock = clock
        self._missing: MissingSince = {}
        self._refused: set[str] = set()
        self.driver = DockerIpamDriver(
            book=ipam.book,
            directory=ipam.directory,
            host=config.host,
            clock=clock,
            lookup=self._lookup,
        )
        self.server = DriverServer(self.driver, socket=config.socket)

    async def run(self) -> None:
        await self.server.start()
        try:
            while True:
                await self.run_pass()
                await asyncio.sleep(self._config.interval_s)
        finally:
            await self.server.stop()

    async def run_pass(self) -> int:
        """Make networks, collect addresses; returns how many were released. Never raises a
        DockyardError (it is logged and the pass ends)."""
        try:
            await self.ipam.book.settle()
            configured = await self.ipam.directory.load_all()
        except DockyardError as exc:
            log.warning("ipam pass skipped reason=%s", exc.message)
            return 0
        released = 0
        for segment, _ in configured:
            try:
                released += await self._segment_pass(segment)
            except DockyardError as exc:
                log.warning("ipam pass segment=%s reason=%s", segment.name, exc.message)
            except (DockerException, RequestException, OSError) as exc:
                log.warning("ipam pass segment=%s engine=%s", segment.name, exc)
        return released

    async def _segment_pass(self, segment: Segment) -> int:
        try:
            await asyncio.to_thread(
                ensure_segment_network, self._engine, segment, driver=self._config.driver_name
            )
        except VlanUnsupported as exc:
            if segment.name not in self._refused:
                log.error("segment refused segment=%s reason=%s", segment.name, exc.message)
                self._refused.add(segment.name)
            return 0
        raw = await asyncio.to_thread(segment_endpoints, self._engine, segment)
        endpoints = [Endpoint(c, IPv4Address(ip), mac) for c, (ip, mac) in raw.items()]
        leases = await self.ipam.book.leases(segment.name)
        verdict = judge(
            leases,
            endpoints,
            host=self._config.host,
            missing_since={k: v for k, v in self._missing.items() if k[0] == segment.name},
            now=self._clock(),
            grace=self._config.grace,
        )
        self._missing = {k: v for k, v in self._missing.items() if k[0] != segment.name}
        self._missing.update(verdict.missing_since)
        for lease, container in verdict.bind:
            await self.ipam.book.rebind(lease, lease.holder.with_container(container))
        released = 0
        for lease in verdict.release:
            if await self.ipam.book.release(lease, reason="collected"):
                released += 1
                log.info(
                    "address collected segment=%s address=%s instance=%s container=%s",
                    segment.name,
                    lease.address,
                    lease.holder.instance,
                    (lease.holder.container or "")[:12],
                )
        return released

    async def _lookup(self, instance: str) -> ContainerInfo | None:
        """The container labelled with `instance`, asked of the engine (None if none)."""

        def find() -> ContainerInfo | None:
            found = self._engine.containers(
                all=True, filters={"label": f"{LABEL_INSTANCE}={instance}"}
            )
            if not found:
                return None
            labels = found[0].get("Labels") or {}
            return ContainerInfo(
                container=str(found[0]["Id"]),
                instance=instance,
                team=labels.get(LABEL_TEAM),
                service=labels.get(LABEL_SERVICE),
                env=labels.get(LABEL_ENV),
            )

        try:
            return await asyncio.to_thread(find)
        except Exception as exc:  # the address is still given; the collector binds it later
            log.warning("container lookup failed instance=%s reason=%s", instance, exc)
            return None
