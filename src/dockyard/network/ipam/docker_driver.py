"""Docker's remote IPAM driver protocol, answered from the address book. No HTTP here: the
agent serves `handle` on /run/docker/plugins/dockyard.sock (agent/ipam_server.py).

Pools are segments: `docker network create --ipam-driver dockyard --ipam-opt segment=NAME`
makes Docker ask RequestPool with that option, and the pool id is the segment's name.

Tying an address to its owner: Docker's RequestAddress names neither the container nor the
instance. The driver declares `RequiresMACAddress`, so Docker sends the endpoint's MAC, and the
Docker runtime gives each Dockyard container the MAC 02:XX:XX:XX:XX:XX whose last five bytes
are its instance id (ids are five random bytes). The driver reads the instance id back from
the MAC and asks the engine (`lookup`) for the container carrying that instance label: the
holder is recorded with instance, container, team, service and environment at allocation, so
the collector can judge liveness by container id. A container Dockyard did not start gets a
holder with its MAC only; the agent's collector fills in its container id from the network's
endpoints.

Every answer is JSON; a failure is {"Error": message} (libnetwork's remote IPAM reads "Error";
its network-driver API says "Err", sent too), never an exception: one etcd error must not take
the driver down. Docker shows the message to whoever started the container.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from dockyard.domain.clock import Clock
from dockyard.domain.errors import DockyardError, Invalid, Unavailable
from dockyard.domain.segment import instance_of_mac
from dockyard.network.ipam.addresses import AddressBook
from dockyard.network.ipam.allocator import again_first
from dockyard.network.ipam.directory import Directory, pool_of, wanted_for
from dockyard.network.ipam.records import Holder

log = logging.getLogger("dockyard.network.ipam.docker")

MAC_OPTION = "com.docker.network.endpoint.macaddress"
REQUEST_TYPE = "RequestAddressType"
GATEWAY_REQUEST = "com.docker.network.gateway"
SEGMENT_OPTION = "segment"


@dataclass(frozen=True)
class ContainerInfo:
    """What the engine says about the container an instance id belongs to."""

    container: str
    instance: str
    team: str | None
    service: str | None
    env: str | None


Lookup = Callable[[str], Awaitable[ContainerInfo | None]]


class DockerIpamDriver:
    """Answers the IpamDriver calls for one host."""

    def __init__(
        self, *, book: AddressBook, directory: Directory, host: str, clock: Clock, lookup: Lookup
    ) -> None:
        self._book = book
        self._directory = directory
        self._host = host
        self._clock = clock
        self._lookup = lookup

    async def handle(self, call: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer to one call ("Plugin.Activate", "IpamDriver.RequestAddress", ...)."""
        handler = _HANDLERS.get(call)
        if handler is None:
            return _error(f"unknown call {call}")
        try:
            return await handler(self, body or {})
        except DockyardError as exc:
            log.warning("ipam call failed call=%s reason=%s", call, exc.message)
            return _error(exc.message)
        except Exception as exc:  # the driver must answer whatever happens
            log.exception("ipam call crashed call=%s", call)
            return _error(f"dockyard IPAM driver error: {exc}")

    async def _activate(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"Implements": ["IpamDriver"]}

    async def _capabilities(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"RequiresMACAddress": True, "RequiresRequestReplay": False}

    async def _spaces(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"LocalDefaultAddressSpace": "dockyard", "GlobalDefaultAddressSpace": "dockyard"}

    async def _request_pool(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("V6"):
            raise Invalid("the dockyard IPAM driver hands out IPv4 addresses only")
        name = (body.get("Options") or {}).get(SEGMENT_OPTION)
        if not name:
            raise Invalid("create the network with --ipam-opt segment=NAME (a Dockyard segment)")
        segment, _ = await self._directory.load(name)
        asked = body.get("Pool")
        if asked and IPv4Network(asked, strict=False) != segment.cidr:
            raise Invalid(f"segment {name} is {segment.cidr}, not {asked}: leave --subnet out")
        gateway = f"{segment.gateway}/{segment.cidr.prefixlen}"
        return {
            "PoolID": name,
            "Pool": str(segment.cidr),
            "Data": {"com.docker.network.gateway": gateway},
        }

    async def _release_pool(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {}  # a pool is a segment: it outlives every network made on it

    async def _request_address(self, body: dict[str, Any]) -> dict[str, Any]:
        segment, fixed = await self._directory.load(_pool_of(body))
        options = body.get("Options") or {}  # Docker may send "Options": null
        prefix = segment.cidr.prefixlen
        if options.get(REQUEST_TYPE) == GATEWAY_REQUEST:
            return {"Address": f"{segment.gateway}/{prefix}", "Data": {}}
        holder = await self._holder(options.get(MAC_OPTION))
        requested = IPv4Address(body["Address"]) if body.get("Address") else None
        wanted = wanted_for(fixed, team=holder.team, service=holder.service, env=holder.env)
        pool = pool_of(segment, fixed)
        if requested is None and holder.instance is not None:
            # Started again in place (a restart): the address it held, if still free.
            previous = await self._book.last_held(holder.instance, segment.name)
            wanted = again_first(pool, previous, wanted)
        lease = await self._book.allocate(pool, holder, wanted=wanted, requested=requested)
        log.info(
            "address allocated segment=%s address=%s instance=%s container=%s",
            segment.name,
            lease.address,
            holder.instance,
            (holder.container or "")[:12],
        )
        return {"Address": f"{lease.address}/{prefix}", "Data": {}}

    async def _release_address(self, body: dict[str, Any]) -> dict[str, Any]:
        segment, address = _field(body, "PoolID"), IPv4Address(_field(body, "Address"))
        lease = await self._book.lease(segment, address)
        if lease is None or lease.holder.host != self._host:
            return {}  # already free, or another host's: not ours to release
        await self._book.release(lease, reason="released")
        return {}

    async def _holder(self, mac: str | None) -> Holder:
        instance = instance_of_mac(mac)
        info = await self._lookup(instance) if instance else None
        # The instance id is believed only once the engine confirms a container carries it:
        # Docker's own random MACs look the same.
        base = Holder(host=self._host, claim="", since=self._clock(), mac=mac)
        if info is None:
            return base
        return base.with_container(
            info.container,
            instance=info.instance,
            team=info.team,
            service=info.service,
            env=info.env,
        )


def _error(message: str) -> dict[str, Any]:
    return {"Error": message, "Err": message}


_Handler = Callable[[DockerIpamDriver, dict[str, Any]], Awaitable[dict[str, Any]]]
_HANDLERS: dict[str, _Handler] = {
    "Plugin.Activate": DockerIpamDriver._activate,
    "IpamDriver.GetCapabilities": DockerIpamDriver._capabilities,
    "IpamDriver.GetDefaultAddressSpaces": DockerIpamDriver._spaces,
    "IpamDriver.RequestPool": DockerIpamDriver._request_pool,
    "IpamDriver.ReleasePool": DockerIpamDriver._release_pool,
    "IpamDriver.RequestAddress": DockerIpamDriver._request_address,
    "IpamDriver.ReleaseAddress": DockerIpamDriver._release_address,
}


def _pool_of(body: dict[str, Any]) -> str:
    """The pool (segment) an address is asked from. The engine was seen to ask once without
    it just after this driver restarted, and with it again on the next try: an answer worded
    "IPAM unavailable" makes that start a wait (runtimes/docker/translate.py), not a failed
    rollout."""
    pool = body.get("PoolID")
    if not pool:
        raise Unavailable(
            "IPAM unavailable: the engine's address call carries no PoolID (as just after the "
            "driver restarted); the instance waits and starts on the next try"
        )
    return str(pool)


def _field(body: dict[str, Any], name: str) -> str:
    """A field the call must carry; Invalid (a plain answer, no crash) if it is missing."""
    value = body.get(name)
    if not value:
        raise Invalid(f"the call carries no {name}: it was not made by Docker's IPAM client")
    return str(value)
