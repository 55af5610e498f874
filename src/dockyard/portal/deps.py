"""What the portal needs from the process hosting it, passed in explicitly (never read globally)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dockyard.domain.clock import Clock
from dockyard.domain.status import EnvKey
from dockyard.logs.center import LogCenter
from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.network.ipam.client import Ipam
from dockyard.store.db import Database


@dataclass(frozen=True)
class PortalDeps:
    """The portal's collaborators.

    `notify` is called with the key of an environment after a scale or rollback from the portal
    has committed, so the controller looks at it now instead of at its next periodic pass.
    `cookie_secure` marks the session cookie Secure: set it whenever the portal is served
    over HTTPS.
    """

    db: Database
    clock: Clock
    notify: Callable[[EnvKey], None]
    cookie_secure: bool = False
    ipam: Ipam | None = None
    """IPAM's etcd, for segment usage; None: the segments page says usage is unavailable."""
    public_url: str | None = None
    """The URL users reach the server at (DOCKYARD_PUBLIC_URL), for the git remotes shown;
    None: the URL the page was asked for."""
    logs: LogCenter | None = None
    """The log center's read side, for the Logs page; None: the page says logs are unavailable."""
    metrics: PrometheusReader | None = None
    """Prometheus, for the service page's charts; None: the charts say metrics are unavailable."""
