"""What a service asks for: its container template, health check, resources and rollout strategy.

These are frozen dataclasses validated on construction, so every layer above can trust them.
`ServiceSpec.template_hash` names the container template: two revisions with the same hash differ
only in replica count, rollout strategy or bandwidth limits, and moving between them never restarts
an instance (bandwidth limits are changed live on the host by the agent).

CPU, memory and pids limits a service does not set itself come from its environment's defaults,
which the platform team sets (`ServiceSpec.resources_own`, `ServiceSpec.with_defaults`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from dockyard.domain.errors import Invalid
from dockyard.domain.image import parse_image
from dockyard.domain.logfiles import LogMultiline, check_log_paths
from dockyard.domain.lograte import LogRate, log_rate_of
from dockyard.domain.publish import PRIVATE, Publish, parse_publish, publish_json

MIN_MEMORY_MB = 16
MAX_MEMORY_MB = 256 * 1024
MAX_CPUS = 64.0
MAX_REPLICAS = 500
MAX_PIDS = 32768
MAX_PORTS = 20
MAX_ENV_VARS = 200
DEFAULT_DRAIN_S = 5.0
MAX_DRAIN_S = 600
MAX_BANDWIDTH_MBIT = 100_000  # 100 Gbit/s: above any NIC an instance sits behind today

# Linux capabilities a service may ask back after all are dropped. Anything that lets a container
# reach the host (SYS_ADMIN, SYS_MODULE, NET_ADMIN, ...) is not on the list.
ALLOWED_CAPABILITIES = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SYS_CHROOT",
        "AUDIT_WRITE",
        "SETFCAP",
    }
)


def _require(condition: bool, message: str, field: str) -> None:
    if not condition:
        raise Invalid(message, field=field)


@dataclass(frozen=True)
class Port:
    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    name: str = ""

    def __post_init__(self) -> None:
        _require(
            1 <= self.container_port <= 65535,
            f"port {self.container_port} is out of range: use 1-65535",
            "ports",
        )
        _require(self.protocol in ("tcp", "udp"), "port protocol must be 'tcp' or 'udp'", "ports")


@dataclass(frozen=True)
class HealthCheck:
    """An HTTP GET on `http_path` at `port`, a command run inside the container, or (`tcp`) a
    TCP connect to `port` (only the default check of domain/readiness.py; never stored).

    The instance is ready after one success once started; after `retries` consecutive failures
    it is unhealthy. Failures during `start_period_s` do not count.
    """

    http_path: str | None = None
    port: int | None = None
    command: tuple[str, ...] = ()
    interval_s: float = 5.0
    timeout_s: float = 2.0
    retries: int = 3
    start_period_s: float = 0.0
    tcp: bool = False

    def __post_init__(self) -> None:
        f = "health_check"
        kinds = (self.http_path is not None, bool(self.command), self.tcp)
        _require(sum(kinds) == 1, "health_check needs exactly one of http_path or command", f)
        _require(not self.tcp or self.port is not None, "a TCP check needs a port", f)
        if self.http_path is not None:
            _require(
                self.http_path.startswith("/"), "health_check.http_path must start with '/'", f
            )
            _require(len(self.http_path) <= 1024, "health_check.http_path is too long", f)
        if self.port is not None:
            _require(1 <= self.port <= 65535, "health_check.port must be 1-65535", f)
        _require(0.1 <= self.interval_s <= 300, "health_check.interval_s must be 0.1-300", f)
        _require(0.1 <= self.timeout_s <= 60, "health_check.timeout_s must be 0.1-60", f)
        _require(1 <= self.retries <= 100, "health_check.retries must be 1-100", f)
        _require(0 <= self.start_period_s <= 3600, "health_check.start_period_s must be 0-3600", f)


@dataclass(frozen=True)
class Resources:
    """Per-instance limits, always applied: CPU (cores), memory (MiB) and process count."""

    cpus: float = 0.5
    memory_mb: int = 256
    pids: int = 512

    def __post_init__(self) -> None:
        f = "resources"
        _require(0.01 <= self.cpus <= MAX_CPUS, f"resources.cpus must be 0.01-{MAX_CPUS:g}", f)
        _require(
            MIN_MEMORY_MB <= self.memory_mb <= MAX_MEMORY_MB,
            f"resources.memory_mb {self.memory_mb} is out of range: "
            f"use {MIN_MEMORY_MB}-{MAX_MEMORY_MB} MiB",
            f,
        )
        _require(16 <= self.pids <= MAX_PIDS, f"resources.pids must be 16-{MAX_PIDS}", f)


RESOURCE_FIELDS: tuple[str, ...] = ("cpus", "memory_mb", "pids")
"""The limits of `Resources`, in the order they are shown."""


@dataclass(frozen=True)
class Bandwidth:
    """Per-instance network limits in Mbit/s (10^6 bit/s), from the service's point of view.

    `egress_mbit` bounds what an instance sends (traffic FROM it), `ingress_mbit` what it
    receives (traffic TO it). None means unlimited. Rates count whole Ethernet frames, so a
    TCP stream's payload reaches about 95 % of the limit.
    """

    egress_mbit: int | None = None
    ingress_mbit: int | None = None

    def __post_init__(self) -> None:
        for name in ("egress_mbit", "ingress_mbit"):
            value = getattr(self, name)
            if value is None:
                continue
            _require(
                isinstance(value, int)
                and not isinstance(value, bool)
                and 1 <= value <= MAX_BANDWIDTH_MBIT,
                f"bandwidth.{name} {value!r} is out of range: use a whole number of Mbit/s "
                f"from 1 to {MAX_BANDWIDTH_MBIT}, or leave it out for no limit",
                "bandwidth",
            )

    @property
    def limited(self) -> bool:
        return self.egress_mbit is not None or self.ingress_mbit is not None


@dataclass(frozen=True)
class Strategy:
    """Rolling update bounds, as counts of instances (never both zero)."""

    max_surge: int = 1
    max_unavailable: int = 0

    def __post_init__(self) -> None:
        f = "strategy"
        _require(0 <= self.max_surge <= MAX_REPLICAS, "strategy.max_surge must be >= 0", f)
        _require(
            0 <= self.max_unavailable <= MAX_REPLICAS, "strategy.max_unavailable must be >= 0", f
        )
        _require(
            self.max_surge + self.max_unavailable > 0,
            "strategy.max_surge and strategy.max_unavailable cannot both be 0: "
            "the rollout could never make progress",
            f,
        )


@dataclass(frozen=True)
class ServiceSpec:
    """The container template of a service: everything but the replica count."""

    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    resources: Resources = field(default_factory=Resources)
    health_check: HealthCheck | None = None
    stop_grace_s: float = 10.0
    capabilities: tuple[str, ...] = ()
    strategy: Strategy = field(default_factory=Strategy)
    bandwidth: Bandwidth = field(default_factory=Bandwidth)
    drain_s: float = DEFAULT_DRAIN_S
    """How long an instance about to be stopped is first out of service (draining: taken out
    of the endpoints, still running) so requests in flight finish; 0 stops it at once."""
    resources_own: tuple[str, ...] = RESOURCE_FIELDS
    """The limits (of RESOURCE_FIELDS) the service set itself. The others follow its
    environment's default: in a template their value in `resources` means nothing, in a
    revision it is the default the revision was made with (`with_defaults`)."""
    log_paths: tuple[str, ...] = ()
    """Declared log files inside the container (`/app/logs/*.log`): collected by the agent
    from a per-instance directory mounted at each path's directory (domain/logfiles.py)."""
    log_multiline: LogMultiline | None = None
    """How multi-line records are joined, in the console log and the declared files alike."""
    log_rate: LogRate | None = None
    """The flood budget of the service's logs on each host (domain/lograte.py); None: the
    platform's default."""
    publish: Publish = PRIVATE
    """Which other teams see the service's endpoints (domain/publish.py)."""

    def __post_init__(self) -> None:
        parse_image(self.image)
        check_log_paths(self.log_paths)
        _require(
            set(self.resources_own) <= set(RESOURCE_FIELDS),
            f"resources_own may name only {', '.join(RESOURCE_FIELDS)}",
            "resources",
        )
        _require(len(self.ports) <= MAX_PORTS, f"at most {MAX_PORTS} ports", "ports")
        _require(len(self.env) <= MAX_ENV_VARS, f"at most {MAX_ENV_VARS} env vars", "env")
        for key, _ in self.env:
            _require(
                bool(key)
                and "=" not in key
                and key.replace("_", "a").isalnum()
                and not key[0].isdigit(),
                f"env var name {key!r} is invalid: use letters, digits and '_', "
                "not starting with a digit",
                "env",
            )
        _require(
            0 <= self.stop_grace_s <= 600, "stop_grace_s must be 0-600 seconds", "stop_grace_s"
        )
        _require(
            0 <= self.drain_s <= MAX_DRAIN_S,
            f"drain_s must be 0-{MAX_DRAIN_S} seconds",
            "drain_s",
        )
        for cap in self.capabilities:
            _require(
                cap in ALLOWED_CAPABILITIES,
                f"capability {cap!r} is not allowed; choose from "
                f"{', '.join(sorted(ALLOWED_CAPABILITIES))}",
                "capabilities",
            )
        if self.health_check and self.health_check.http_path is not None:
            _require(
                self.health_check.port is not None or bool(self.ports),
                "an HTTP health check needs health_check.port or at least one port",
                "health_check",
            )

    @property
    def health_port(self) -> int | None:
        check = self.health_check
        if check is None or check.http_path is None:
            return None
        return check.port if check.port is not None else self.ports[0].container_port

    def with_defaults(self, defaults: Resources) -> ServiceSpec:
        """This template as an environment whose defaults are `defaults` runs it: the limits
        the service set itself, and `defaults`' for the others."""
        chosen = {
            name: getattr(self.resources if name in self.resources_own else defaults, name)
            for name in RESOURCE_FIELDS
        }
        return replace(self, resources=Resources(**chosen))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["env"] = dict(self.env)
        data["resources_own"] = list(self.resources_own)
        data["log_paths"] = list(self.log_paths)
        data["publish"] = publish_json(self.publish)
        if data["health_check"] is not None and not data["health_check"]["tcp"]:
            # Only the default TCP check sets it, and that one is derived, never stored: leaving
            # the key out keeps stored specs and their template hashes as they were.
            del data["health_check"]["tcp"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceSpec:
        """Inverse of `to_json`; raises Invalid on any malformed part.

        Without `resources_own` (API bodies, specs stored before environment defaults existed)
        the service owns each limit `resources` gives a value, and a limit left out or null
        follows the environment's default.
        """
        try:
            check = data.get("health_check")
            given = {k: v for k, v in (data.get("resources") or {}).items() if v is not None}
            own = data.get("resources_own")
            return cls(
                image=data["image"],
                command=tuple(data.get("command") or ()),
                args=tuple(data.get("args") or ()),
                ports=tuple(Port(**p) for p in data.get("ports") or ()),
                env=tuple(sorted((str(k), str(v)) for k, v in (data.get("env") or {}).items())),
                resources=Resources(**given),
                health_check=(
                    HealthCheck(**{**check, "command": tuple(check.get("command") or ())})
                    if check
                    else None
                ),
                stop_grace_s=float(data.get("stop_grace_s", 10.0)),
                # Absent in specs stored before draining existed: the default.
                drain_s=float(data.get("drain_s", DEFAULT_DRAIN_S)),
                capabilities=tuple(data.get("capabilities") or ()),
                strategy=Strategy(**(data.get("strategy") or {})),
                # Absent in specs stored before limits existed: unlimited.
                bandwidth=Bandwidth(**(data.get("bandwidth") or {})),
                resources_own=tuple(
                    name for name in RESOURCE_FIELDS if name in (given if own is None else own)
                ),
                # Both absent in specs stored before declared log files existed: none.
                log_paths=tuple(data.get("log_paths") or ()),
                log_multiline=_multiline(data.get("log_multiline")),
                # Absent in specs stored before flood budgets existed: the platform's default.
                log_rate=log_rate_of(data.get("log_rate")),
                # Absent in specs stored before endpoints existed: private.
                publish=parse_publish(data.get("publish")),
            )
        except (KeyError, TypeError) as exc:
            raise Invalid(f"malformed service spec: {exc}", field="spec") from exc

    @property
    def template_hash(self) -> str:
        """Short stable hash of the template; equal hashes mean interchangeable instances."""
        # The rollout strategy says how to replace instances, not what they are: leave it out.
        # Bandwidth limits too: the agent changes them on the running instance's veth, so a
        # revision that changes only them must keep the hash, or the controller would replace
        # every instance for a change that needs no restart. (Leaving both out also keeps the
        # hashes of revisions stored before these fields existed.) `resources_own` says where
        # the limits came from, not what they are: the values themselves are in `resources`.
        # The drain period says how an instance is retired, not what it runs; `publish` who
        # may find it.
        unhashed = ("strategy", "bandwidth", "resources_own", "drain_s", "publish")
        template = {k: v for k, v in self.to_json().items() if k not in unhashed}
        # Declared log files change the mounts and labels (the flood budget a label too), so
        # they are hashed, but only when set: the hashes of templates stored before they
        # existed stay what they were.
        for name in ("log_paths", "log_multiline", "log_rate"):
            if not template[name]:
                del template[name]
        canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _multiline(data: Any) -> LogMultiline | None:
    if not data:
        return None
    if isinstance(data, str):  # the start regex alone, with the default bounds
        return LogMultiline(start=data)
    return LogMultiline(**data)


def check_ports_distinct(ports: Iterable[Port]) -> None:
    """Invalid if a (port, protocol) pair is listed twice: an instance listens on it once, and
    a second entry would only make a second, conflicting mapping of the same port.

    A rule for templates being written, not a construction check: templates stored before it
    existed must still load, run and roll back.
    """
    seen: set[tuple[int, str]] = set()
    for port in ports:
        pair = (port.container_port, port.protocol)
        _require(
            pair not in seen,
            f"port {port.container_port}/{port.protocol} is listed twice: list each port once",
            "ports",
        )
        seen.add(pair)


def check_replicas(replicas: int) -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise Invalid("replicas must be a whole number", field="replicas")
    _require(
        0 <= replicas <= MAX_REPLICAS,
        f"replicas {replicas} is out of range: use 0-{MAX_REPLICAS}",
        "replicas",
    )
    return replicas
