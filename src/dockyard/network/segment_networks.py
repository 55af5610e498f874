"""Per segment, on each host: a Docker network on a Linux bridge whose addresses come from IPAM.

`ensure_segment_network` makes `docker network create --driver bridge --ipam-driver dockyard
--ipam-opt segment=NAME -o com.docker.network.bridge.name=dy-NAME` through the Engine API
(blocking: run it in a thread). A segment with a VLAN id needs its bridge attached to a VLAN
sub-interface of the uplink, which needs the kernel's 802.1Q support: without it the network is
refused with `VlanUnsupported` naming the missing feature, before anything is created.

802.1Q is detected by trying: a throwaway network namespace gets a veth pair and a VLAN
sub-interface on it, then is deleted. The kernel's answer ("Unknown device type" without
8021q) is the truth; /proc/net/vlan is not, since the module loads on first use.
"""

from __future__ import annotations

import functools
import os
import subprocess
from typing import Any

import docker
from docker.errors import APIError, NotFound

from dockyard.domain.errors import DockyardError, RuntimeFailure
from dockyard.domain.instance import LABEL_MANAGED
from dockyard.domain.segment import Segment

IPAM_DRIVER = "dockyard"
LABEL_SEGMENT = "io.dockyard.segment"
HTTP_CONFLICT = 409


class VlanUnsupported(DockyardError):
    """The kernel cannot make VLAN sub-interfaces (no 802.1Q), so VLAN segments cannot run."""

    code = "vlan_unsupported"


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


def check_vlan(segment: Segment) -> None:
    """Raise VlanUnsupported if `segment` has a VLAN id and this kernel has no 802.1Q."""
    if segment.vlan is None:
        return
    reason = vlan_support()
    if reason is not None:
        raise VlanUnsupported(
            f"segment {segment.name} needs VLAN {segment.vlan}, but this host's kernel has no "
            f"802.1Q VLAN support (CONFIG_VLAN_8021Q / module 8021q: `ip link add ... type "
            f"vlan` says: {reason}); run it on a host whose kernel has 802.1Q, or remove the "
            "VLAN id from the segment"
        )


def ensure_segment_network(
    client: docker.APIClient, segment: Segment, *, driver: str = IPAM_DRIVER
) -> str:
    """Return the segment's Docker network id, creating the network if it is missing.

    `driver` is the IPAM plugin's name (its socket: /run/docker/plugins/DRIVER.sock).

    Idempotent, and safe against another process creating it at the same moment.
    """
    check_vlan(segment)
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
