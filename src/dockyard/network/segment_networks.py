"""Per segment, on each host: a Docker network on a Linux bridge whose addresses come from IPAM.

`ensure_segment_network` makes `docker network create --driver bridge --ipam-driver dockyard
--ipam-opt segment=NAME -o com.docker.network.bridge.name=dy-NAME` through the Engine API
(blocking: run it in a thread). A segment with a VLAN id needs its bridge attached to a VLAN
sub-interface of the uplink, which needs the kernel's 802.1Q support: without it the network is
refused with `VlanUnsupported` naming the missing feature, before anything is created; so is
one on a host with no uplink configured (`NoUplink`). With both, the bridge is attached to the
sub-interface `UPLINK.VID` once Docker has made it (network/vlan.py).

802.1Q is detected by trying: a throwaway network namespace gets a veth pair and a VLAN
sub-interface on it, then is deleted. The kernel's answer ("Unknown device type" without
8021q) is the truth; /proc/net/vlan is not, since the module loads on first use.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, NotFound

from dockyard.domain.errors import DockyardError, RuntimeFailure
from dockyard.domain.instance import LABEL_MANAGED
from dockyard.domain.segment import Segment
from dockyard.network.vlan import Attachment, VlanLinks, plan_attach

IPAM_DRIVER = "dockyard"
LABEL_SEGMENT = "io.dockyard.segment"
HTTP_CONFLICT = 409
HTTP_FORBIDDEN = 403


class VlanUnsupported(DockyardError):
    """This host cannot carry VLAN segments: its kernel has no 802.1Q (or, as `NoUplink`, no
    uplink is configured). The agent skips such a segment here, with the reason logged once."""

    code = "vlan_unsupported"


class NoUplink(VlanUnsupported):
    """A VLAN segment on a host whose agent was given no uplink (DOCKYARD_UPLINK)."""

    code = "no_uplink"


@functools.cache
def vlan_support() -> str | None:
    """None if this kernel can make 802.1Q VLAN interfaces, else why not (the kernel's words)."""
    namespace = f"dyvlanprobe{os.getpid()}"
    steps = (
        ["ip", "netns", "add", namespace],
        ["ip", "-n", namespace, "link", "add", "p0", "type", "veth", "peer", "name", "p1"],
        [
            "ip",
            "-n",
            namespace,
            "link",
            "add",
            "link",
            "p0",
            "name",
            "p0.2",
            "type",
            "vlan",
            "id",
            "2",
        ],
    )
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=10, check=False)
            if done.returncode != 0:
                return done.stderr.strip() or f"`{' '.join(step)}` failed"
        return None
    except OSError as exc:
        return f"cannot run ip(8): {exc}"
    finally:
        subprocess.run(
            ["ip", "netns", "del", namespace], capture_output=True, timeout=10, check=False
        )


def vlan_refusal(
    segment: Segment, *, uplink: str | None, kernel: str | None
) -> VlanUnsupported | None:
    """Why this host cannot carry `segment` (None: it can, or the segment has no VLAN id).

    `kernel` is `vlan_support()`'s answer; the kernel is named first, since no setting helps a
    host without 802.1Q.
    """
    if segment.vlan is None:
        return None
    if kernel is not None:
        return VlanUnsupported(
            f"segment {segment.name} needs VLAN {segment.vlan}, but this host's kernel has no "
            f"802.1Q VLAN support (CONFIG_VLAN_8021Q / module 8021q: `ip link add ... type "
            f"vlan` says: {kernel}); run it on a host whose kernel has 802.1Q, or remove the "
            "VLAN id from the segment"
        )
    if uplink is None:
        return NoUplink(
            f"segment {segment.name} needs VLAN {segment.vlan}, but no uplink is configured on "
            "this host: set DOCKYARD_UPLINK to the interface that carries the VLANs (e.g. eth1) "
            "and restart the agent"
        )
    return None


def check_vlan(segment: Segment, *, uplink: str | None = None) -> None:
    """Raise VlanUnsupported if `segment` has a VLAN id and this host cannot carry it."""
    if segment.vlan is None:
        return
    refusal = vlan_refusal(segment, uplink=uplink, kernel=vlan_support())
    if refusal is not None:
        raise refusal


def attachment_of(segment: Segment, *, uplink: str | None) -> Attachment | None:
    """What the segment's bridge needs on this host (None: no VLAN, a plain bridge)."""
    if segment.vlan is None or uplink is None:
        return None
    return Attachment(segment=segment.name, uplink=uplink, vlan=segment.vlan, bridge=segment.bridge)


def ensure_segment_network(
    client: docker.APIClient,
    segment: Segment,
    *,
    driver: str = IPAM_DRIVER,
    uplink: str | None = None,
) -> str:
    """Return the segment's Docker network id, creating the network if it is missing, and
    for a VLAN segment attaching its bridge to `UPLINK.VID` (network/vlan.py).

    `driver` is the IPAM plugin's name (its socket: /run/docker/plugins/DRIVER.sock).

    Idempotent, and safe against another process creating it at the same moment. A VLAN
    segment the host cannot carry (VlanUnsupported), or whose sub-interface name is taken by
    something else (Conflict), or whose uplink is missing (NotFound), is refused before the
    network is made.
    """
    check_vlan(segment, uplink=uplink)
    attachment = attachment_of(segment, uplink=uplink)
    if attachment is None:
        return _ensure_network(client, segment, driver=driver)
    with VlanLinks() as links:
        plan_attach(attachment, links.links())  # refusals first: nothing made yet
        network = _ensure_network(client, segment, driver=driver)
        links.attach(attachment)
    return network


def _ensure_network(client: docker.APIClient, segment: Segment, *, driver: str) -> str:
    name = segment.docker_network
    try:
        return str(client.inspect_network(name)["Id"])
    except NotFound:
        pass
    try:
        created: dict[str, Any] = client.create_network(
            name,
            driver="bridge",
            ipam=docker.types.IPAMConfig(driver=driver, options={"segment": segment.name}),
            options={"com.docker.network.bridge.name": segment.bridge},
            labels={LABEL_MANAGED: "true", LABEL_SEGMENT: segment.name},
            check_duplicate=True,
        )
        return str(created["Id"])
    except APIError as exc:
        if exc.status_code == HTTP_CONFLICT:
            return str(client.inspect_network(name)["Id"])
        raise RuntimeFailure(
            f"cannot create Docker network {name} for segment {segment.name}: "
            f"{exc.explanation or exc}"
        ) from exc


def segment_endpoints(client: docker.APIClient, segment: Segment) -> dict[str, tuple[str, str]]:
    """{container id: (IPv4 address, MAC)} of every endpoint on the segment's network here."""
    try:
        network = client.inspect_network(segment.docker_network)
    except NotFound:
        return {}
    found = {}
    for container, endpoint in (network.get("Containers") or {}).items():
        address = str(endpoint.get("IPv4Address") or "").split("/")[0]
        if address:
            found[container] = (address, str(endpoint.get("MacAddress") or ""))
    return found


@dataclass(frozen=True)
class SegmentNetwork:
    """A segment's Docker network as found on this host."""

    segment: str
    name: str
    containers: tuple[str, ...]
    """Ids of the containers attached to it, running or not."""


def segment_networks_here(
    client: docker.APIClient, *, driver: str = IPAM_DRIVER
) -> list[SegmentNetwork]:
    """Every Docker network here labelled as a segment's whose addresses come from the IPAM
    driver `driver` (another driver's belong to another Dockyard, or another test), with the
    containers attached."""
    found = []
    for network in client.networks(filters={"label": [LABEL_SEGMENT]}):
        segment = str((network.get("Labels") or {}).get(LABEL_SEGMENT) or "")
        if segment and (network.get("IPAM") or {}).get("Driver") == driver:
            found.append(
                SegmentNetwork(segment, str(network["Name"]), _attached(client, network["Id"]))
            )
    return found


def remove_segment_network(client: docker.APIClient, network: SegmentNetwork) -> bool:
    """Remove `network` unless a container is attached to it; True once it is gone.

    Checked again just before removing; a container that attaches in between makes the engine
    refuse (it never removes a network with an active endpoint), which is False too. A network
    that is already gone is True. RuntimeFailure for other refusals.
    """
    try:
        if _attached(client, network.name):
            return False
        client.remove_network(network.name)
    except NotFound:
        return True
    except APIError as exc:
        if exc.status_code in (HTTP_FORBIDDEN, HTTP_CONFLICT):  # "has active endpoints"
            return False
        raise RuntimeFailure(
            f"cannot remove Docker network {network.name} of deleted segment "
            f"{network.segment}: {exc.explanation or exc}"
        ) from exc
    return True


def _attached(client: docker.APIClient, network: str) -> tuple[str, ...]:
    """Containers on `network`: those the engine lists for it, stopped ones included (they
    would fail to start without it), and the network's own live endpoints."""
    listed = {str(c["Id"]) for c in client.containers(all=True, filters={"network": network})}
    endpoints = client.inspect_network(network).get("Containers") or {}
    return tuple(sorted(listed | set(endpoints)))
