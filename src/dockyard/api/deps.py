"""What the API needs from the process that serves it, passed in once by `build_api`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from dockyard.domain.clock import Clock
from dockyard.domain.errors import MetricsUnavailable, Unavailable
from dockyard.domain.instance import Observed
from dockyard.domain.status import EnvKey
from dockyard.logs.center import LogCenter
from dockyard.metrics.alarm_center import AlarmCenter
from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.network.ipam.client import Ipam
from dockyard.store.db import Database

ONE_MIB = 1024 * 1024

log = logging.getLogger("dockyard.api")

InstanceReader = Callable[[], Awaitable[Sequence[Observed]]]
"""Every instance the runtime reports now, in any state, with its address while it runs.
Raises Unavailable (or RuntimeFailure) when the runtime cannot be read."""


@dataclass(frozen=True)
class ApiDeps:
    """The API's collaborators. Built once per process; routes never create their own."""

    db: Database
    """The platform database; each request uses one or two short transactions."""

    clock: Clock
    """The time stamped on everything written; tests pass a fixed or movable clock."""

    notify: Callable[[EnvKey], None]
    """Called after a commit that changed the desired state of a (service, environment), so the
    controller reacts at once instead of at its next resync. Must not block; may be a no-op."""

    max_body_bytes: int = ONE_MIB
    """Request bodies larger than this are refused with 413 before any route sees them."""

    ipam: Ipam | None = None
    """IPAM's etcd (segments, held addresses, history); None: IPAM routes answer 503."""

    instances: InstanceReader | None = None
    """Reads the runtime's instances for `ipam check` (the composition root passes the
    runtime's list: the API never imports a runtime); None: check answers 503."""

    public_url: str | None = None
    """The URL users reach the server at (DOCKYARD_PUBLIC_URL), for the URLs the API shows
    (git remotes); None: the URL the request came to."""

    logs: LogCenter | None = None
    """The log center's read side (search, live tails, downloads); None: log routes answer
    503."""

    alarms: AlarmCenter | None = None
    """Alarm rules' publisher, Alertmanager, the webhook's credential and receivers' delivery;
    None: alarm rules and actions answer 503 (the history stays readable)."""

    def require_alarms(self) -> AlarmCenter:
        if self.alarms is None:
            raise Unavailable("alarms unavailable: this server has no Prometheus configured")
        return self.alarms

    metrics: PrometheusReader | None = None
    """Prometheus, for metric queries and charts; None: those answer 503 metrics_unavailable."""

    def require_metrics(self) -> PrometheusReader:
        if self.metrics is None:
            raise MetricsUnavailable(
                "metrics unavailable: this server has no Prometheus configured"
            )
        return self.metrics

    def require_ipam(self) -> Ipam:
        if self.ipam is None:
            raise Unavailable("IPAM unavailable: this server has no etcd configured")
        return self.ipam

    def changed(self, keys: Iterable[EnvKey | None]) -> None:
        """Tell the controller about committed changes. Call only after the commit.

        A failing notify is logged, not raised: the change is committed, and the controller's
        periodic resync picks it up anyway, so the caller must still get its success answer.
        """
        for key in keys:
            if key is None:
                continue
            try:
                self.notify(key)
            except Exception:
                log.exception("notify failed key=%s", key)


async def api_deps(request: Request) -> ApiDeps:
    """FastAPI dependency: the ApiDeps this app was built with (async: no threadpool hop)."""
    return cast(ApiDeps, request.app.state.deps)


Deps = Annotated[ApiDeps, Depends(api_deps)]
"""Route parameter type: this app's ApiDeps."""
