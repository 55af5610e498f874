"""haproxy.cfg and its host-name map for one layout (pure).

The configuration carries every slot's current address and state, so a reload (or a start
after the balancer itself restarted) serves at once what the runtime API had set; the unused
tail of a backend's slots is one `server-template`. A slot in `drain` is written `disabled`:
the new worker sends it nothing, while the old worker finishes its connections.

Zero failed requests rest on these lines: health checks every second (`fall 2 rise 1`) take a
dead instance out within about two seconds; until then a failed connect, an empty response or
a response timeout of an idempotent request is retried (`retry-on`, `retries`) on another
server (`option redispatch 1`), so a stale endpoint costs latency, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.discovery.balancer_layout import UNUSED_ADDRESS, UNUSED_PORT, Backend, Layout
from dockyard.discovery.haproxy import HaproxyFiles

CHECK = "check inter 1s fall 2 rise 1"


@dataclass(frozen=True)
class Listeners:
    """Where HAProxy listens (its sockets and files are HaproxyFiles')."""

    http: str = "0.0.0.0:8480"
    """The HTTP frontend's HOST:PORT."""
    metrics: str = "127.0.0.1:9468"
    """The Prometheus exporter's HOST:PORT (loopback)."""
    tcp_host: str = "0.0.0.0"
    """The address TCP routes' ports are bound on."""
    connect_timeout_ms: int = 500
    """A connect taking longer is a failure, retried on another server."""


def render(layout: Layout, listeners: Listeners, files: HaproxyFiles) -> str:
    """The whole haproxy.cfg serving `layout`, with the stats socket and map of `files`."""
    parts = [_global(listeners, files), _frontends(listeners, files)]
    for backend in layout.backends.values():
        parts.append(_backend(backend, listeners))
    return "\n".join(parts)


def render_map(layout: Layout) -> str:
    """The host-name map file: `HOST BACKEND` per line."""
    return "".join(f"{host} {name}\n" for host, name in sorted(layout.hosts.items()))


def _global(listeners: Listeners, files: HaproxyFiles) -> str:
    return f"""global
    master-worker
    stats socket {files.stats_socket} mode 600 level admin expose-fd listeners
    stats timeout 30s
    log stdout format raw local0 info

defaults
    log global
    timeout connect {listeners.connect_timeout_ms}ms
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
"""


def _frontends(listeners: Listeners, files: HaproxyFiles) -> str:
    return f"""frontend http
    mode http
    bind {listeners.http}
    option httplog
    use_backend %[req.hdr(host),lower,word(1,:),map({files.map_file})]

frontend metrics
    mode http
    bind {listeners.metrics}
    no log
    http-request use-service prometheus-exporter if {{ path /metrics }}
"""


def _backend(backend: Backend, listeners: Listeners) -> str:
    lines = [f"backend {backend.name}", f"    mode {backend.mode}", "    balance roundrobin"]
    if backend.mode == "http":
        lines.append("    retry-on conn-failure empty-response response-timeout")
    last = max((i for i, s in enumerate(backend.slots, 1) if s.used), default=0)
    for number, slot in enumerate(backend.slots[:last], start=1):
        disabled = "" if slot.state == "ready" else " disabled"
        lines.append(f"    server s{number} {slot.address}:{slot.port} {CHECK}{disabled}")
    if last < len(backend.slots):
        lines.append(
            f"    server-template s {last + 1}-{len(backend.slots)} "
            f"{UNUSED_ADDRESS}:{UNUSED_PORT} {CHECK} disabled"
        )
    text = "\n".join(lines) + "\n"
    if backend.tcp_port is not None:
        text += (
            f"\nfrontend tcp:{backend.name}\n    mode tcp\n    option tcplog\n"
            f"    bind {listeners.tcp_host}:{backend.tcp_port}\n"
            f"    default_backend {backend.name}\n"
        )
    return text
