"""The resolver a container gets by default: its network's gateway, where this host's dnsmasq
answers (discovery/dns_config.py). Learnt from the engine once per network. Blocking; run in a
thread (driver.py), whose engine errors are translated there."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from typing import Any

import docker


def gateway_of(network: Mapping[str, Any]) -> str | None:
    """The first IPv4 gateway of a network's inspect answer (IPAM.Config[].Gateway, which
    may carry a prefix length), or None if it names none."""
    for pool in (network.get("IPAM") or {}).get("Config") or ():
        raw = str((pool or {}).get("Gateway") or "").partition("/")[0]
        try:
            address = ipaddress.ip_address(raw)
        except ValueError:
            continue
        if address.version == 4:
            return str(address)
    return None


def container_dns(
    *, explicit: tuple[str, ...], from_gateway: bool, gateway: str | None
) -> tuple[str, ...]:
    """The resolvers a container is given: the explicit ones if any (the operator's override);
    else its network's gateway if resolving there is on and the gateway is known; else none,
    which leaves the engine's default."""
    if explicit:
        return explicit
    if from_gateway and gateway is not None:
        return (gateway,)
    return ()


class Gateways:
    """Each network's gateway, asked of the engine the first time and kept until forgotten.

    A network keeps its gateway for its life; one removed and made again under the same name
    may not, so whoever sees it gone calls `forget`. A network with no gateway is not kept:
    it is asked again next time."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def of(self, client: docker.APIClient, network: str) -> str | None:
        """The gateway of `network`; the engine's errors (a missing network: NotFound) pass."""
        with self._lock:
            known = self._known.get(network)
        if known is not None:
            return known
        found = gateway_of(client.inspect_network(network))
        if found is not None:
            with self._lock:
                self._known[network] = found
        return found

    def forget(self, network: str) -> None:
        with self._lock:
            self._known.pop(network, None)
