"""Service names in DNS on this host: what `dockyard up` runs, `down` stops and `status` asks.

Three programs of this host's supervisor (cli/supervisor.py), after the server: `dockyard
names` (PowerDNS's remote backend, following the endpoint feed), Debian's pdns_server
(authoritative for the zone) and dnsmasq (the containers' resolver). Their files live in
<state>/dns (discovery/dns_config.py). A configuration that changed restarts its program: its
hash is part of the program's environment, which the supervisor compares. Programs that are
not installed, or that do not answer, are reported and `up` goes on: nothing else of the
platform needs names.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

from dockyard.cli.errors import CliError
from dockyard.cli.own_program import is_ready, own_process
from dockyard.cli.processes import Managed
from dockyard.cli.supervision import supervise
from dockyard.cli.supervisor import Program
from dockyard.discovery.dns_config import (
    GATEWAY_INTERFACES,
    DnsLayout,
    dnsmasq_config,
    pdns_config,
)
from dockyard.metrics.config_file import write_if_changed
from dockyard.settings import Settings

PDNS_CANDIDATES = ("/usr/sbin/pdns_server",)
DNSMASQ_CANDIDATES = ("/usr/sbin/dnsmasq",)
REMOTE_BACKEND = Path("/usr/lib/x86_64-linux-gnu/pdns/libremotebackend.so")
PACKAGES = "pdns-server pdns-backend-remote dnsmasq-base"
START_S = 30.0
STOP_S = 10.0
PROBE_S = 1.0
CONFIG_HASH = "DOCKYARD_CONFIG_SHA256"
"""Put in a program's environment: a changed configuration file restarts the program."""
RESOLV_CONF = Path("/etc/resolv.conf")


def dns_layout(settings: Settings) -> DnsLayout:
    return DnsLayout(settings.paths.state_dir / "dns")


def _find(name: str, candidates: tuple[str, ...]) -> str:
    found = shutil.which(name)
    return found or next((p for p in candidates if os.access(p, os.X_OK)), candidates[0])


def pdns_process(settings: Settings) -> Managed:
    return Managed(
        name="pdns",
        argv=(
            _find("pdns_server", PDNS_CANDIDATES),
            f"--config-dir={dns_layout(settings).pdns_dir}",
        ),
        pid_file=settings.paths.run_dir / "pdns.pid",
        log_file=settings.paths.logs_dir / "pdns.log",
    )


def dnsmasq_process(settings: Settings) -> Managed:
    return Managed(
        name="dnsmasq",
        argv=(
            _find("dnsmasq", DNSMASQ_CANDIDATES),
            f"--conf-file={dns_layout(settings).dnsmasq_file}",
        ),
        pid_file=settings.paths.run_dir / "dnsmasq.pid",
        log_file=settings.paths.logs_dir / "dnsmasq.log",
    )


def host_upstreams(resolv_conf: str, *, own: Sequence[str], port: int) -> tuple[str, ...]:
    """The nameservers of a resolv.conf text, leaving out dnsmasq's own addresses (a host
    whose resolver is this dnsmasq would otherwise forward to itself)."""
    found = []
    for line in resolv_conf.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and not (port == 53 and words[1] in own):
            found.append(words[1])
    return tuple(found)


def upstreams(settings: Settings) -> tuple[str, ...]:
    names = settings.names
    if names.upstreams:
        return names.upstreams
    try:
        text = RESOLV_CONF.read_text()
    except OSError:
        return ()
    return host_upstreams(text, own=(*names.listen, *names.resolvers), port=names.port)


def write_configs(settings: Settings) -> tuple[str, str]:
    """pdns.conf and dnsmasq.conf; the hash of each, for the programs' environments."""
    names, layout = settings.names, dns_layout(settings)
    address, port = names.pdns
    pdns = pdns_config(layout, address=address, port=port)
    dnsmasq = dnsmasq_config(
        zone=names.zone,
        listen=list(dict.fromkeys((*names.listen, *names.resolvers))),
        port=names.port,
        pdns=names.pdns,
        upstreams=upstreams(settings),
        # Containers' resolver is their gateway unless the operator names resolvers.
        interfaces=() if names.resolvers else GATEWAY_INTERFACES,
    )
    layout.pdns_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_if_changed(layout.pdns_dir / "pdns.conf", pdns)
    write_if_changed(layout.dnsmasq_file, dnsmasq)
    return _sha(pdns), _sha(dnsmasq)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dns_problem(server: tuple[str, int], zone: str) -> str | None:
    """Why the DNS server at `server` does not answer the zone's SOA, or None if it does."""
    ident = secrets.randbelow(65534) + 1
    labels = b"".join(bytes([len(x)]) + x.encode() for x in zone.split("."))
    question = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0\0\x06\0\x01"
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(PROBE_S)
            sock.sendto(question, server)
            reply = sock.recv(4096)
    except OSError as exc:
        return f"no answer at {server[0]}#{server[1]}: {exc or type(exc).__name__}"
    if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != ident:
        return f"a malformed answer from {server[0]}#{server[1]}"
    answers = struct.unpack(">H", reply[6:8])[0]
    if reply[3] & 0xF or not answers:
        return f"{server[0]}#{server[1]} has no SOA for {zone} (rcode {reply[3] & 0xF})"
    return None


def resolver(settings: Settings) -> tuple[str, int]:
    names = settings.names
    return (names.listen or names.resolvers)[0], names.port


def missing(settings: Settings) -> list[str]:
    """What this host lacks of PowerDNS, its remote backend and dnsmasq (empty: nothing)."""
    programs = (pdns_process(settings).argv[0], dnsmasq_process(settings).argv[0])
    return [p for p in (*programs, str(REMOTE_BACKEND)) if not os.access(p, os.R_OK)]


def ensure_names(settings: Settings, *, env: dict[str, str], base: dict[str, str]) -> list[str]:
    """Run the name server, PowerDNS and dnsmasq; one line each."""
    names = settings.names
    if not names.enabled:
        return ["names: off (DOCKYARD_DNS=off)"]
    if absent := missing(settings):
        return [f"names: not started: {', '.join(absent)} missing: `apt-get install {PACKAGES}`"]
    pdns_sha, dnsmasq_sha = write_configs(settings)
    lines = []
    for process, environment, answers, failure in (
        (own_process(settings, "names"), base, lambda: is_ready(settings, "names"),
         "the name server did not listen for PowerDNS"),
        (pdns_process(settings), {CONFIG_HASH: pdns_sha},
         lambda: dns_problem(names.pdns, names.zone) is None,
         f"PowerDNS did not answer at {names.pdns_addr}"),
        (dnsmasq_process(settings), {CONFIG_HASH: dnsmasq_sha},
         lambda: dns_problem(resolver(settings), names.zone) is None,
         f"dnsmasq did not answer at {resolver(settings)[0]}#{names.port}"),
    ):  # fmt: skip
        try:
            done = supervise(
                settings,
                Program(process, stop_s=STOP_S, environment=environment),
                env=env,
                answers=answers,
                timeout_s=START_S,
                failure=f"{failure} within {START_S:g} s",
            )
        except CliError as exc:
            # Nothing else of the platform needs names: say so, and let `up` go on.
            lines.append(f"{process.name}: not running: {exc.message}")
            break
        lines.append(f"{process.name}: {done.describe()}, log {process.log_file}")
    return lines


def stop_parts(settings: Settings) -> list[tuple[str, Managed]]:
    """The three programs in the order `down` stops them."""
    return [
        ("dnsmasq", dnsmasq_process(settings)),
        ("pdns", pdns_process(settings)),
        ("names", own_process(settings, "names")),
    ]
