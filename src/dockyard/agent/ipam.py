"""The agent's IPAM side on one host: serve Docker's IPAM driver, keep a Docker network per
segment, and collect addresses whose owner is gone (or whose host's agent is: liveness.py).

One pass every `interval_s`, level-triggered: read the segments from etcd, make each one's
Docker network if missing (a VLAN segment on a kernel without 802.1Q is skipped with its
reason logged), read its endpoints from the engine, judge this host's leases
(network/ipam/collector.py) and release, bind or hold again (an address a container here uses
that no key holds, as after this host was cut off long enough for the others to free its
addresses) what the verdict says; then free the addresses of hosts gone for `host_grace`
(agent/liveness.py). An etcd or engine error
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
from dockyard.agent.liveness import GoneHostCollector
from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError
from dockyard.domain.instance import LABEL_ENV, LABEL_INSTANCE, LABEL_SERVICE, LABEL_TEAM
from dockyard.domain.segment import Segment, instance_of_mac
from dockyard.network.ipam.client import Ipam
from dockyard.network.ipam.collector import Endpoint, MissingSince, UnheldSince, judge
from dockyard.network.ipam.docker_driver import ContainerInfo, DockerIpamDriver
from dockyard.network.ipam.records import Holder, Lease
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
    uplink: str | None = None
    """The interface VLAN segments' sub-interfaces sit on; None: VLAN segments are refused."""
    host_grace: timedelta = timedelta(minutes=10)
    """How long another host's liveness key must be absent before its addresses are freed."""


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
        self._unheld: UnheldSince = {}
        self._duplicates: set[tuple[str, IPv4Address]] = set()
        self._refused: set[str] = set()
        self.driver = DockerIpamDriver(
            book=ipam.book,
            directory=ipam.directory,
            host=config.host,
            clock=clock,
            lookup=self._lookup,
        )
        self.server = DriverServer(self.driver, socket=config.socket)
        self.gone_hosts = GoneHostCollector(
            ipam.book, ipam.hosts, host=config.host, grace=config.host_grace, clock=clock
        )

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
        try:
            released += await self.gone_hosts.run_pass()
        except DockyardError as exc:
            log.warning("gone hosts pass skipped reason=%s", exc.message)
        return released

    async def _segment_pass(self, segment: Segment) -> int:
        try:
            await asyncio.to_thread(
                ensure_segment_network,
                self._engine,
                segment,
                driver=self._config.driver_name,
                uplink=self._config.uplink,
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
            segment=segment.name,
            unheld_since={k: v for k, v in self._unheld.items() if k[0] == segment.name},
        )
        self._missing = {k: v for k, v in self._missing.items() if k[0] != segment.name}
        self._missing.update(verdict.missing_since)
        self._unheld = {k: v for k, v in self._unheld.items() if k[0] != segment.name}
        self._unheld.update(verdict.unheld_since)
        await self._hold_again(segment, verdict.adopt)
        self._report_duplicates(segment, verdict.duplicates)
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

    async def _hold_again(self, segment: Segment, endpoints: list[Endpoint]) -> None:
        """Hold addresses our containers use that no key holds (freed while we were cut off)."""
        for endpoint in endpoints:
            holder = Holder(
                host=self._config.host,
                claim="",
                since=self._clock(),
                container=endpoint.container,
                instance=instance_of_mac(endpoint.mac),
                mac=endpoint.mac,
            )
            lease = await self.ipam.book.adopt(segment.name, endpoint.address, holder)
            log.warning(
                "address in use without a holder segment=%s address=%s container=%s held=%s",
                segment.name,
                endpoint.address,
                endpoint.container[:12],
                "again" if lease is not None else "by someone else meanwhile",
            )

    def _report_duplicates(self, segment: Segment, found: list[tuple[Endpoint, Lease]]) -> None:
        """Log each duplicate once: nothing here can fix it (restart one of the two users)."""
        keys = {(segment.name, endpoint.address) for endpoint, _ in found}
        for endpoint, lease in found:
            if (segment.name, endpoint.address) in self._duplicates:
                continue
            log.error(
                "duplicate address segment=%s address=%s container=%s held_by_host=%s "
                "held_for=%s: restart one of them",
                segment.name,
                endpoint.address,
                endpoint.container[:12],
                lease.holder.host,
                lease.holder.owner,
            )
        others = {key for key in self._duplicates if key[0] != segment.name}
        self._duplicates = others | keys

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
