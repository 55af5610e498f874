"""The configurations of the two DNS servers that serve Dockyard's names, as text. Pure.

PowerDNS is authoritative for the zone: every question goes to `dockyard names` through the
remote backend, and all of its caches are off, so an answer follows the feed within the
backend's own delay (it answers from memory). dnsmasq is the containers' resolver: questions
in the zone go to PowerDNS with the caller's address as EDNS client subnet (a /32 or /128:
PowerDNS must know the instance, not its network), all others to the host's resolvers. It
caches nothing either: its cache would hold a name past an endpoint change.

Containers ask dnsmasq on their network's gateway. Unless the operator names the addresses,
dnsmasq answers on every bridge a Dockyard container may join, by interface name, as the
bridges come and go (bind-dynamic): the engine's default bridge, the Dockyard network's (a
user-defined bridge, br-<id>) and the segment networks' (dy-<segment>, network/). Names rather
than addresses, because segment networks are made later, by the agent, with gateways IPAM
chooses: no one would have to rewrite the file and restart dnsmasq when one appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GATEWAY_INTERFACES = ("docker0", "br-*", "dy-*")
"""The bridges containers' default resolver (their gateway) lives on: see the module's text."""


@dataclass(frozen=True)
class DnsLayout:
    """Where the DNS servers' files live: <state>/dns."""

    root: Path

    @property
    def backend_socket(self) -> Path:
        """The unix socket `dockyard names` answers PowerDNS on."""
        return self.root / "names.sock"

    @property
    def pdns_dir(self) -> Path:
        return self.root / "pdns"

    @property
    def dnsmasq_file(self) -> Path:
        return self.root / "dnsmasq.conf"

    @property
    def snapshot_file(self) -> Path:
        """The last snapshot `dockyard names` had: a restart answers from it at once."""
        return self.root / "snapshot.json"


def pdns_config(layout: DnsLayout, *, address: str, port: int) -> str:
    """pdns.conf: the remote backend on `layout.backend_socket`, listening on address:port."""
    lines = {
        "launch": "remote",
        "remote-connection-string": f"unix:path={layout.backend_socket}",
        "local-address": address,
        "local-port": str(port),
        # Answers must follow endpoint changes within a second: no cache of any kind.
        "cache-ttl": "0",
        "negquery-cache-ttl": "0",
        "query-cache-ttl": "0",
        "zone-cache-refresh-interval": "0",
        "consistent-backends": "yes",
        "edns-subnet-processing": "yes",
        # Nothing leaves the machine: no security poll over public DNS, no notifies.
        "security-poll-suffix": "",
        "disable-axfr": "yes",
        "socket-dir": str(layout.pdns_dir),
        "guardian": "no",
        "daemon": "no",
        "disable-syslog": "yes",
        "log-timestamp": "yes",
        "write-pid": "no",
        "webserver": "no",
        "api": "no",
        "receiver-threads": "1",
        "distributor-threads": "2",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def dnsmasq_config(
    *,
    zone: str,
    listen: Sequence[str],
    port: int,
    pdns: tuple[str, int],
    upstreams: Sequence[str],
    interfaces: Sequence[str] = (),
) -> str:
    """dnsmasq.conf: resolving on `listen` (addresses, maybe not up yet) and on the addresses
    of `interfaces` (names, maybe ending in "*"; loopback comes with them) at `port`, the zone
    from PowerDNS at `pdns`, everything else from `upstreams` (addresses, "ADDR#PORT")."""
    lines = [
        "keep-in-foreground",
        "log-facility=-",
        "no-resolv",
        "no-hosts",
        "no-poll",
        "cache-size=0",
        # Addresses the Dockyard networks' bridges get later must be listened on as they come.
        "bind-dynamic",
        f"port={port}",
        *(f"listen-address={address}" for address in listen),
        *(f"interface={name}" for name in interfaces),
        f"server=/{zone}/{pdns[0]}#{pdns[1]}",
        "add-subnet=32,128",
        *(f"server={upstream}" for upstream in upstreams),
        "pid-file=",
        "user=root",
    ]
    return "".join(line + "\n" for line in lines)
