"""`dockyard-ipam`: a CNI IPAM plugin (ADD, DEL, CHECK, VERSION, GC and STATUS of CNI 1.1) over
the same etcd layout as the Docker driver, so a Kubernetes node needs no patched source.

A main plugin (e.g. the reference `bridge`) calls it with the network configuration on stdin
and the CNI_* variables (the CNI protocol's inputs, read here and nowhere else):

    {"cniVersion": "1.0.0", "name": "net", "type": "bridge", "bridge": "dy-off1",
     "ipam": {"type": "dockyard-ipam", "segment": "off1",
              "etcd_endpoints": ["http://127.0.0.1:2379"], "etcd_prefix": "/dockyard"}}

The holder of an address is (host, container id, interface): DEL releases exactly what that
attachment holds, and succeeds when there is nothing (twice, without a prior ADD, or with the
namespace gone: DEL never looks at the namespace). GC releases this host's CNI-held addresses
of the segment that no valid attachment names. An error is CNI's JSON error on stdout and
exit code 1; etcd down is code 11 ("try again later").
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.domain.errors import DockyardError, Invalid, Unavailable
from dockyard.network.etcd import Etcd
from dockyard.network.ipam.addresses import AddressBook
from dockyard.network.ipam.directory import Directory, pool_of
from dockyard.network.ipam.records import Holder, Keys, Lease

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
DEFAULT_ENDPOINTS = ("http://127.0.0.1:2379",)
# CNI error codes (SPEC.md, "Error"): 4 invalid configuration, 7 invalid environment
# variables, 11 try again later, 50 plugin not available.
INVALID_CONFIG, INVALID_ENV, TRY_AGAIN, NOT_AVAILABLE = 4, 7, 11, 50


class CniError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Request:
    command: str
    container: str
    interface: str
    config: dict[str, Any]
    version: str
    segment: str
    endpoints: tuple[str, ...]
    prefix: str
    host: str

    @classmethod
    def parse(cls, environ: Mapping[str, str], stdin: str) -> Request:
        command = environ.get("CNI_COMMAND", "")
        if command == "VERSION":
            config: dict[str, Any] = json.loads(stdin) if stdin.strip() else {}
            return cls(
                command, "", "", config, str(config.get("cniVersion", "1.1.0")), "", (), "", ""
            )
        try:
            config = json.loads(stdin)
        except ValueError as exc:
            raise CniError(
                INVALID_CONFIG, f"the network configuration is not JSON: {exc}"
            ) from None
        ipam = config.get("ipam") or {}
        segment = ipam.get("segment")
        if not isinstance(segment, str) or not segment:
            raise CniError(INVALID_CONFIG, "ipam.segment is missing: name a Dockyard segment")
        if command in ("ADD", "DEL", "CHECK") and not environ.get("CNI_CONTAINERID"):
            raise CniError(INVALID_ENV, "CNI_CONTAINERID is not set")
        return cls(
            command=command,
            container=environ.get("CNI_CONTAINERID", ""),
            interface=environ.get("CNI_IFNAME", "eth0"),
            config=config,
            version=str(config.get("cniVersion", "1.0.0")),
            segment=segment,
            endpoints=tuple(ipam.get("etcd_endpoints") or DEFAULT_ENDPOINTS),
            prefix=str(ipam.get("etcd_prefix") or "/dockyard"),
            host=str(ipam.get("host") or socket.gethostname()),
        )


async def handle(request: Request) -> dict[str, Any] | None:
    """The result to print (None for commands that print nothing)."""
    if request.command == "VERSION":
        return {"cniVersion": request.version, "supportedVersions": list(SUPPORTED)}
    etcd = Etcd(request.endpoints)
    keys = Keys(request.prefix)
    book = AddressBook(etcd, keys=keys, clock=lambda: datetime.now(UTC))
    try:
        if request.command == "ADD":
            return await _add(request, book, Directory(etcd, keys=keys))
        if request.command == "DEL":
            for lease in await _held(request, book):
                await book.release(lease, reason="released")
            return None
        if request.command == "CHECK":
            await _check(request, book)
            return None
        if request.command == "GC":
            await _collect(request, book)
            return None
        if request.command == "STATUS":
            await Directory(etcd, keys=keys).load(request.segment)
            return None
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND {request.command!r}")
    finally:
        await etcd.close()


async def _add(request: Request, book: AddressBook, directory: Directory) -> dict[str, Any]:
    segment, fixed = await directory.load(request.segment)
    held = await _held(request, book)
    if held:  # ADD repeated for one attachment: the same address again
        lease = held[0]
    else:
        holder = Holder(
            host=request.host,
            claim="",
            since=datetime.now(UTC),
            kind="cni",
            container=request.container,
            interface=request.interface,
        )
        lease = await book.allocate(pool_of(segment, fixed), holder)
    address = f"{lease.address}/{segment.cidr.prefixlen}"
    ip: dict[str, Any] = {"address": address, "gateway": str(segment.gateway)}
    if request.version.startswith("0.3") or request.version.startswith("0.4"):
        ip["version"] = "4"
    routes = (request.config.get("ipam") or {}).get("routes") or []
    return {"cniVersion": request.version, "ips": [ip], "routes": routes, "dns": {}}


async def _held(request: Request, book: AddressBook) -> list[Lease]:
    return [
        lease
        for lease in await book.leases(request.segment)
        if lease.holder.kind == "cni"
        and lease.holder.container == request.container
        and (lease.holder.interface or "eth0") == request.interface
    ]


async def _check(request: Request, book: AddressBook) -> None:
    held = await _held(request, book)
    if not held:
        raise CniError(
            INVALID_CONFIG,
            f"container {request.container} ({request.interface}) holds no address in "
            f"segment {request.segment}",
        )
    previous = request.config.get("prevResult") or {}
    expected = {str(ip.get("address", "")).split("/")[0] for ip in previous.get("ips", [])}
    if expected and str(held[0].address) not in expected:
        raise CniError(
            INVALID_CONFIG,
            f"container {request.container} holds {held[0].address}, not {', '.join(expected)}",
        )


async def _collect(request: Request, book: AddressBook) -> None:
    valid = {
        (str(item.get("containerID")), str(item.get("ifname") or "eth0"))
        for item in request.config.get("cni.dev/valid-attachments") or []
    }
    for lease in await book.leases(request.segment):
        holder = lease.holder
        if holder.kind != "cni" or holder.host != request.host:
            continue
        if (holder.container or "", holder.interface or "eth0") not in valid:
            await book.release(lease, reason="collected")


def run(environ: Mapping[str, str], stdin: str) -> tuple[int, str]:
    """One plugin invocation: (exit code, what to print on stdout)."""
    version = "1.1.0"
    try:
        request = Request.parse(environ, stdin)
        version = request.version
        result = asyncio.run(handle(request))
    except CniError as exc:
        return 1, _error(version, exc.code, exc.message)
    except Unavailable as exc:
        return 1, _error(version, TRY_AGAIN, exc.message)
    except Invalid as exc:
        return 1, _error(version, INVALID_CONFIG, exc.message)
    except DockyardError as exc:  # e.g. the segment is exhausted
        return 1, _error(version, NOT_AVAILABLE, exc.message)
    return 0, "" if result is None else json.dumps(result)


def _error(version: str, code: int, message: str) -> str:
    return json.dumps({"cniVersion": version, "code": code, "msg": message, "details": ""})


def main() -> None:
    """Entry point of the `dockyard-ipam` executable."""
    # The CNI protocol passes its inputs as CNI_* variables: they are read here, the plugin's
    # own boundary, not in settings.py (they are no Dockyard setting).
    code, output = run(os.environ, sys.stdin.read())
    if output:
        sys.stdout.write(output + "\n")
    sys.exit(code)
