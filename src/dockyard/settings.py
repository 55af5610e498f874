"""Every knob of Dockyard, grouped by the part it configures, read from the environment once.

This is the only module that reads environment variables: `Settings.from_env(os.environ)` is
called by the entry points (`dockyard server`, the CLI) and the resulting frozen objects are
passed down explicitly. An invalid value raises `Invalid` with a one-line message naming the
variable and saying what to use instead.

It also owns the client credentials file format (`{"url": ..., "token": ...}`, mode 0600), shared
by the server (which writes the admin token there at first start) and the CLI (which reads it,
and writes the same shape on `dockyard login`).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dockyard.controller.config import ControllerSettings
from dockyard.domain.errors import Invalid
from dockyard.images.config import (
    DEFAULT_REGISTRY,
    BuildSettings,
    ImageSettings,
    RegistrySettings,
    RetentionSettings,
    S3Storage,
    SourceSettings,
    StorageKind,
    SwiftStorage,
    swift_auth_version,
)
from dockyard.logs.retention import Caps, Days, parse_caps, parse_days, parse_size
from dockyard.metrics.receivers import SmtpSettings

T = TypeVar("T")

DEFAULT_PORT = 8420
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_ETCD = "http://127.0.0.1:2379"
DEFAULT_NATS = "nats://127.0.0.1:4222"
DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"
DEFAULT_ALERTMANAGER = "http://127.0.0.1:9093"
LOG_INDEX_ENGINES = ("fts5", "tantivy")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SUPERVISORS = ("auto", "systemd", "supervisord")


@dataclass(frozen=True)
class PathSettings:
    state_dir: Path
    """Where the platform keeps its database, logs and PID files (DOCKYARD_STATE_DIR)."""
    credentials_file: Path
    """The local admin credentials the server writes at first start (DOCKYARD_CREDENTIALS_FILE)."""

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """PID files of the processes `dockyard up` started."""
        return self.state_dir / "run"


@dataclass(frozen=True)
class SupervisorSettings:
    kind: str
    """What keeps `dockyard up`'s processes running (DOCKYARD_SUPERVISOR): "systemd" (units),
    "supervisord", or "auto" (default): systemd where it runs as the init system, else
    supervisord."""
    unit_dir: Path
    """Where systemd units are written (DOCKYARD_SYSTEMD_UNIT_DIR, /etc/systemd/system)."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    """sqlite:///PATH (default) or postgresql+psycopg://USER@HOST/DB (DOCKYARD_DATABASE_URL)."""


@dataclass(frozen=True)
class ListenSettings:
    host: str
    """Address the server binds (DOCKYARD_LISTEN_HOST)."""
    port: int
    """TCP port the server binds (DOCKYARD_LISTEN_PORT)."""
    public_url: str | None = None
    """The URL users reach the server at, e.g. behind a proxy (DOCKYARD_PUBLIC_URL): git
    remotes are shown under it. None: the URL each request came to."""

    @property
    def local_url(self) -> str:
        """The URL a client on this host uses to reach the server."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class DockerSettings:
    host: str
    """The engine API: unix:///PATH or tcp://HOST:PORT (DOCKYARD_DOCKER_HOST)."""
    host_is_default: bool
    """True when DOCKYARD_DOCKER_HOST was not set."""
    network: str
    """The bridge network instances join (DOCKYARD_DOCKER_NETWORK)."""
    parallel_starts: int
    """Container starts at once; dockerd tops out at 3-4 starts/s (DOCKYARD_PARALLEL_STARTS)."""
    dockerd_root: Path | None = None
    """A dockerd of the platform's own, beside any other engine on the host
    (DOCKYARD_DOCKERD_ROOT): `dockyard up` starts and supervises one whose data, run state,
    PID file and configuration file are under this directory, answering at `host` (by default
    unix://ROOT/docker.sock), with no default bridge and no iptables rules of its own (those
    belong to the host's engine)."""

    @property
    def managed(self) -> bool:
        """True if `dockyard up` may start and supervise dockerd: the host's default engine
        (DOCKYARD_DOCKER_HOST unset), or an engine of the platform's own (`dockerd_root`)."""
        return self.host_is_default or self.dockerd_root is not None


@dataclass(frozen=True)
class ClientSettings:
    url: str | None
    """Server URL overriding the stored login (DOCKYARD_URL)."""
    token: str | None
    """API token overriding the stored login (DOCKYARD_TOKEN)."""
    config_file: Path
    """Where `dockyard login` stores {url, token} (DOCKYARD_CONFIG)."""


@dataclass(frozen=True)
class EtcdSettings:
    """IPAM state lives in etcd (network/ipam)."""

    endpoints: tuple[str, ...]
    """http://HOST:PORT of each member, comma-separated (DOCKYARD_ETCD_ENDPOINTS)."""
    endpoints_are_default: bool
    """True when DOCKYARD_ETCD_ENDPOINTS was not set."""
    prefix: str
    """Key prefix of everything IPAM writes (DOCKYARD_ETCD_PREFIX)."""
    leader_ttl_s: int = 10
    """TTL of the leader key `<prefix>/leader` (DOCKYARD_LEADER_TTL_S): servers elect one of
    them to run the controllers only when DOCKYARD_ETCD_ENDPOINTS is set; a dead leader is
    replaced within about this many seconds."""

    @property
    def elect_leader(self) -> bool:
        """Several servers may share the database: only the elected one runs the controllers."""
        return not self.endpoints_are_default

    @property
    def managed(self) -> bool:
        """True if `dockyard up` may run etcd here: the default endpoint, or one on loopback
        (a single member on this host); never a cluster, nor a member elsewhere."""
        if self.endpoints_are_default:
            return True
        if len(self.endpoints) != 1:
            return False
        host = urlsplit(self.endpoints[0]).hostname or ""
        return host == "localhost" or _is_loopback(host)


@dataclass(frozen=True)
class IpamSettings:
    """The agent's IPAM side: the Docker driver socket, garbage collection (network/ipam)."""

    driver_socket: Path
    """Docker's remote IPAM driver socket the agent serves (DOCKYARD_IPAM_SOCKET)."""
    host: str
    """This host's name, recorded as the holder of its addresses (DOCKYARD_HOST_NAME)."""
    gc_grace_s: float
    """How long an address's owner must be gone before it is released (DOCKYARD_IPAM_GC_GRACE_S)."""
    gc_interval_s: float
    """How often the agent compares addresses with containers (DOCKYARD_IPAM_GC_INTERVAL_S)."""
    uplink: str | None
    """The interface that carries VLAN segments' traffic (DOCKYARD_UPLINK): a segment with VLAN
    id V gets the sub-interface UPLINK.V on its bridge. None: VLAN segments are refused here."""
    host_ttl_s: int
    """TTL of this host's liveness key in etcd, refreshed every third of it
    (DOCKYARD_IPAM_HOST_TTL_S)."""
    host_grace_s: float
    """How long another host's liveness key must be absent before the addresses it holds are
    freed (DOCKYARD_IPAM_HOST_GRACE_S); longer than any etcd partition a live host may suffer."""


@dataclass(frozen=True)
class BandwidthSettings:
    """The agent's bandwidth limits (agent/bandwidth.py): how often it checks every instance,
    and where it asks for the limits in force."""

    interval_s: float
    """Seconds between full passes over this host's instances (DOCKYARD_BANDWIDTH_INTERVAL_S)."""
    server_url: str | None
    """The server whose API lists the limits in force (DOCKYARD_AGENT_SERVER_URL); None: the
    URL in the local credentials file."""
    token: str | None
    """A token for that API (DOCKYARD_AGENT_TOKEN): the admin's, since the agent shapes every
    team's instances; None: the token in the local credentials file."""


@dataclass(frozen=True)
class ArchiveS3:
    """An S3 (or S3-compatible: Ceph, MinIO) store for the log archive."""

    endpoint: str | None = None
    """http(s)://HOST:PORT of a store that is not AWS (DOCKYARD_LOG_ARCHIVE_S3_ENDPOINT)."""
    key: str | None = None
    """Access key (DOCKYARD_LOG_ARCHIVE_S3_KEY), set together with the secret."""
    secret: str | None = None
    """Secret key (DOCKYARD_LOG_ARCHIVE_S3_SECRET)."""
    region: str | None = None
    """Region name (DOCKYARD_LOG_ARCHIVE_S3_REGION)."""

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs storage options: only what is set."""
        options: dict[str, Any] = {}
        if self.endpoint:
            options["endpoint_url"] = self.endpoint
        if self.key and self.secret:
            options["key"], options["secret"] = self.key, self.secret
        if self.region:
            options["client_kwargs"] = {"region_name": self.region}
        return options


@dataclass(frozen=True)
class LogSettings:
    """The log center (logs/): where the agent ships lines, how it reads them, and where the
    indexer and the archiver keep them."""

    nats_urls: tuple[str, ...]
    """nats://HOST:PORT of each JetStream server, comma-separated (DOCKYARD_NATS_URLS)."""
    nats_urls_are_default: bool
    """True when DOCKYARD_NATS_URLS was not set (see `managed`: where `dockyard up` runs
    nats-server, with its data in `<state>/nats`)."""
    stream_max_bytes: int
    """Bytes the stream keeps before dropping its oldest batches (DOCKYARD_LOG_STREAM_MAX_BYTES):
    the buffer between the agents and the consumers."""
    max_line_bytes: int
    """Longer records are cut to this many bytes, with a marker (DOCKYARD_LOG_MAX_LINE_BYTES)."""
    checkpoint_dir: Path
    """Where the agent keeps each followed file's position (DOCKYARD_LOG_CHECKPOINT_DIR)."""
    files_dir: Path
    """Host directories mounted at services' declared log paths (DOCKYARD_LOG_FILES_DIR)."""
    index_dir: Path
    """The search index, one partition per day (DOCKYARD_LOG_INDEX_DIR)."""
    index_engine: str
    """The search engine of the index: tantivy (the default) or fts5 (SQLite FTS5)
    (DOCKYARD_LOG_INDEX_ENGINE); benchmarks/log_index.py compares them: at 10 million lines
    tantivy answered a common word in one service ~19x faster (p95) at ~60% of the size."""
    archive_url: str
    """Where hourly compressed NDJSON goes: a local path, s3://BUCKET/PREFIX or hdfs://...
    (DOCKYARD_LOG_ARCHIVE_URL)."""
    index_days: int
    """Days a line stays searchable; whole day partitions are dropped (DOCKYARD_LOG_INDEX_DAYS)."""
    archive_days: int
    """Days the archive keeps an hour file (DOCKYARD_LOG_ARCHIVE_DAYS)."""
    rate_default: int = 10_000
    """The flood budget of a service that sets none: lines per second of all its instances on
    one host, with bursts of five seconds' worth; 0: unlimited (DOCKYARD_LOG_RATE_DEFAULT).
    One agent ships ~100k lines/s: at 10,000 no single flooding service takes more than a
    tenth of it, while a busy service (a line per request) stays far below."""
    sweep_grace_s: float = 3600.0
    """How long after an instance's container is gone the agent keeps its declared-file
    directory, shipped mark and checkpoints (DOCKYARD_LOG_SWEEP_GRACE_S)."""
    index_retention: Days = field(default_factory=lambda: Days(7))
    """Days lines stay searchable, per environment: `7,online=30,stable=14`, or one number for
    all (DOCKYARD_LOG_INDEX_DAYS); `index_days` is its default."""
    archive_retention: Days = field(default_factory=lambda: Days(90))
    """Days the archive keeps an hour file, per environment, written the same way
    (DOCKYARD_LOG_ARCHIVE_DAYS); `archive_days` is its default."""
    index_caps: Caps = field(default_factory=Caps)
    """Bytes the index may take on this host (DOCKYARD_LOG_INDEX_CAP_BYTES, e.g. `200G`) and
    per team (DOCKYARD_LOG_TEAM_CAP_BYTES: `20G`, `20G,shop=50G` or `shop=50G`); past a cap
    the oldest partitions go, never today's. Unset: no cap."""
    retention_every_s: float = 600.0
    """How often the indexer and the archiver apply retention (and once at start)
    (DOCKYARD_LOG_RETENTION_EVERY_S)."""
    archive_cap_bytes: int | None = None
    """Bytes the archive may take (DOCKYARD_LOG_ARCHIVE_CAP_BYTES, e.g. `2T`): past it the
    archiver deletes the oldest days of any service, never today's. Meant for an archive on
    a local path; an object store is usually bounded by its own lifecycle rules. Unset: none."""
    archive_s3: ArchiveS3 = field(default_factory=ArchiveS3)
    """How the archiver reaches an s3:// archive (DOCKYARD_LOG_ARCHIVE_S3_*); unset parts
    fall back to the host's AWS settings."""

    @property
    def archive_storage_options(self) -> dict[str, Any]:
        """What fsspec needs to open `archive_url` (empty unless it is s3://)."""
        if not self.archive_url.startswith(("s3://", "s3a://")):
            return {}
        return self.archive_s3.storage_options()

    @property
    def managed(self) -> bool:
        """True if `dockyard up` may run nats-server here: the default URL, or one on loopback
        (a single server on this host); never a cluster, nor a server elsewhere."""
        if self.nats_urls_are_default:
            return True
        if len(self.nats_urls) != 1:
            return False
        host = urlsplit(self.nats_urls[0]).hostname or ""
        return host == "localhost" or _is_loopback(host)


@dataclass(frozen=True)
class MetricsSettings:
    """Where each process serves its metrics as Prometheus text (GET /metrics), HOST:PORT; an
    empty value serves none. The ports follow Prometheus's exporter range, clear of `dockyard
    up`'s others (server 8420, NATS 4222, etcd 2379, registry 5000)."""

    agent_addr: str = "127.0.0.1:9465"
    """The agent's (DOCKYARD_AGENT_METRICS_ADDR)."""
    indexer_addr: str = "127.0.0.1:9466"
    """The log indexer's (DOCKYARD_INDEXER_METRICS_ADDR)."""
    archiver_addr: str = "127.0.0.1:9467"
    """The log archiver's (DOCKYARD_ARCHIVER_METRICS_ADDR)."""
    agent_interval_s: float = 5.0
    """How often the agent lists this host's containers for their metrics; figures are read at
    each scrape (DOCKYARD_AGENT_METRICS_INTERVAL_S)."""
    docker_root: Path = Path("/var/lib/docker")
    """Docker's data directory, whose disk and inode use the agent reports beside the state
    directory's (DOCKYARD_DOCKER_ROOT)."""


@dataclass(frozen=True)
class MonitoringSettings:
    """Prometheus and Alertmanager: run by `dockyard up` on loopback (the default), or existing
    ones elsewhere that Dockyard only points at (cli/monitoring.py). Those run here keep their
    configuration, rules, targets and data in <state>/prometheus and <state>/alertmanager."""

    prometheus_url: str = DEFAULT_PROMETHEUS
    """Prometheus's base URL (DOCKYARD_PROMETHEUS_URL). On loopback `up` runs Debian's
    prometheus there; elsewhere it is an existing server, never started here."""
    alertmanager_url: str = DEFAULT_ALERTMANAGER
    """Alertmanager's base URL (DOCKYARD_ALERTMANAGER_URL), run here the same way when on
    loopback."""
    retention: str = "15d"
    """How long Prometheus keeps samples, in its own duration words: 15d, 12h, 2w
    (DOCKYARD_PROMETHEUS_RETENTION)."""
    scrape_interval_s: float = 10.0
    """How often every target is scraped and every rule evaluated (DOCKYARD_SCRAPE_INTERVAL_S)."""
    remote_write_url: str | None = None
    """Where Prometheus also sends every sample (DOCKYARD_PROMETHEUS_REMOTE_WRITE_URL), e.g. a
    central Prometheus, Thanos or Mimir; unset: none."""
    webhook_token_file: Path = Path("/var/lib/dockyard/alertmanager/webhook.token")
    """The platform's token Alertmanager sends to the server's alert webhook
    (DOCKYARD_ALERT_WEBHOOK_TOKEN_FILE; default <state>/alertmanager/webhook.token): `dockyard
    up` writes it; an Alertmanager elsewhere needs a copy, named in its webhook's
    credentials_file."""

    @property
    def prometheus_managed(self) -> bool:
        """True if `dockyard up` runs Prometheus here: its URL is on loopback."""
        return _on_loopback(self.prometheus_url)

    @property
    def alertmanager_managed(self) -> bool:
        """True if `dockyard up` runs Alertmanager here: its URL is on loopback."""
        return _on_loopback(self.alertmanager_url)


@dataclass(frozen=True)
class AlarmSettings:
    """Dockyard's built-in alarms, posted straight to Alertmanager (monitoring.alertmanager_url)
    from the engine's events (the agent) and from the controllers' status (the leader)."""

    builtin: bool = True
    """Exited, OOM-killed, crash-looping instances and services with no ready instance, for
    every service (DOCKYARD_BUILTIN_ALARMS=false turns them off)."""
    no_ready_grace_s: float = 30.0
    """How long a service may have no ready instance before ServiceNoReadyInstances fires
    (DOCKYARD_NO_READY_GRACE_S)."""


@dataclass(frozen=True)
class BalancerSettings:
    """This host's load balancer (`dockyard balancer`, HAProxy): where it listens, the domain
    its host names end in, the TCP ports it hands to non-HTTP services."""

    http_addr: str = "0.0.0.0:8480"
    """Where HTTP routes are served, HOST:PORT (DOCKYARD_BALANCER_HTTP_ADDR)."""
    metrics_addr: str = "127.0.0.1:9468"
    """HAProxy's Prometheus exporter, on loopback (DOCKYARD_BALANCER_METRICS_ADDR)."""
    domain: str = "dockyard.internal"
    """Host names are SERVICE.TEAM.ENV.<domain> (DOCKYARD_BALANCER_DOMAIN; unset: the zone of
    the DNS names, DOCKYARD_DNS_ZONE, so a name that resolves is also a route)."""
    tcp_ports: range = range(20000, 20500)
    """Ports handed to TCP routes, one per service environment: FIRST-LAST
    (DOCKYARD_BALANCER_TCP_PORTS)."""
    drain_s: float = 30.0
    """How long a leaving endpoint takes no new requests but finishes its own before it is put
    in maintenance and its slot may be reused (DOCKYARD_BALANCER_DRAIN_S)."""


@dataclass(frozen=True)
class NamesSettings:
    """Service names in DNS (discovery/names.py): PowerDNS authoritative for `zone`, answered
    by `dockyard names`, and dnsmasq in front as the containers' resolver, all three run by
    `dockyard up` (cli/names.py) with their files in <state>/dns."""

    enabled: bool = True
    """Run the DNS servers (DOCKYARD_DNS: on/off)."""
    zone: str = "dockyard.internal"
    """The zone of service names (DOCKYARD_DNS_ZONE): SERVICE.TEAM.<zone>."""
    ttl_s: int = 5
    """TTL of every record and of negative answers, 1-5 s (DOCKYARD_DNS_TTL_S)."""
    pdns_addr: str = "127.0.0.1:5300"
    """Where PowerDNS listens, HOST:PORT (DOCKYARD_PDNS_ADDR); only dnsmasq asks it."""
    listen: tuple[str, ...] = ("127.0.0.1",)
    """Addresses dnsmasq resolves on besides `resolvers` (DOCKYARD_DNS_LISTEN, comma-separated)."""
    port: int = 53
    """dnsmasq's port on every address (DOCKYARD_DNS_PORT)."""
    resolvers: tuple[str, ...] = ()
    """The resolver addresses every container gets (DOCKYARD_DNS_RESOLVERS, comma-separated):
    an override of the default, where dnsmasq listens too (as soon as an interface has them).
    Unset: each container gets its network's gateway (if `port` is 53, the only port a
    container can ask), and dnsmasq answers on the gateways of the engine's and Dockyard's
    bridges (discovery/dns_config.py). DOCKYARD_DNS=off: containers keep Docker's default
    resolver."""
    upstreams: tuple[str, ...] = ()
    """Where names outside the zone are resolved, ADDR or ADDR#PORT (DOCKYARD_DNS_UPSTREAMS);
    unset: the nameservers of the host's /etc/resolv.conf."""

    @property
    def pdns(self) -> tuple[str, int]:
        host, _, port = self.pdns_addr.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Settings:
    paths: PathSettings
    supervisor: SupervisorSettings
    database: DatabaseSettings
    listen: ListenSettings
    docker: DockerSettings
    controller: ControllerSettings
    client: ClientSettings
    etcd: EtcdSettings
    ipam: IpamSettings
    bandwidth: BandwidthSettings
    images: ImageSettings
    """The registry, builds and retention (DOCKYARD_REGISTRY*, DOCKYARD_BUILD_*, ...)."""
    logs: LogSettings
    """The log center: stream, agent reading, index and archive (DOCKYARD_NATS_URLS,
    DOCKYARD_LOG_*)."""
    log_level: str
    """One of debug, info, warning, error, critical (DOCKYARD_LOG_LEVEL)."""
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    """Where the agent, the indexer and the archiver serve metrics (DOCKYARD_*_METRICS_ADDR)."""
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    """Prometheus and Alertmanager (DOCKYARD_PROMETHEUS_*, DOCKYARD_ALERTMANAGER_URL,
    DOCKYARD_SCRAPE_INTERVAL_S)."""
    smtp: SmtpSettings | None = None
    """The SMTP server alarms' e-mail receivers are reached through (DOCKYARD_SMTP_HOST,
    _PORT, _FROM, _USER, _PASSWORD, _STARTTLS); None (no host set): e-mail receivers fail
    with that reason."""
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    """The built-in alarms (DOCKYARD_BUILTIN_ALARMS, DOCKYARD_NO_READY_GRACE_S)."""
    balancer: BalancerSettings = field(default_factory=BalancerSettings)
    """The load balancer (DOCKYARD_BALANCER_*)."""
    names: NamesSettings = field(default_factory=NamesSettings)
    """Service names in DNS (DOCKYARD_DNS*, DOCKYARD_PDNS_ADDR)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, uid: int | None = None) -> Settings:
        """Settings from `environ`; defaults depend on whether `uid` (default: ours) is root.

        Raises Invalid (field = the variable's name) on the first bad value.
        """
        env = _Reader(environ)
        is_root = (os.geteuid() if uid is None else uid) == 0
        home = Path(environ.get("HOME") or Path.home())
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        default_state = Path("/var/lib/dockyard") if is_root else home / ".local/share/dockyard"
        state_dir = env.get("DOCKYARD_STATE_DIR", _path, default_state)
        default_creds = (
            Path("/etc/dockyard/credentials.json")
            if is_root
            else config_home / "dockyard" / "credentials.json"
        )
        return cls(
            paths=PathSettings(
                state_dir=state_dir,
                credentials_file=env.get("DOCKYARD_CREDENTIALS_FILE", _path, default_creds),
            ),
            supervisor=SupervisorSettings(
                kind=env.get("DOCKYARD_SUPERVISOR", _choice(SUPERVISORS), "auto"),
                unit_dir=env.get("DOCKYARD_SYSTEMD_UNIT_DIR", _path, Path("/etc/systemd/system")),
            ),
            database=DatabaseSettings(
                url=env.get(
                    "DOCKYARD_DATABASE_URL", _database_url, f"sqlite:///{state_dir}/dockyard.db"
                )
            ),
            listen=ListenSettings(
                host=env.get("DOCKYARD_LISTEN_HOST", _nonempty, "127.0.0.1"),
                port=env.get("DOCKYARD_LISTEN_PORT", _int_in(1, 65535), DEFAULT_PORT),
                public_url=env.get("DOCKYARD_PUBLIC_URL", _public_url, None),
            ),
            docker=_docker_settings(env, environ),
            controller=ControllerSettings(
                resync_s=env.get("DOCKYARD_RESYNC_INTERVAL_S", _seconds(0.1, 3600), 10.0),
                orphan_grace_s=env.get("DOCKYARD_ORPHAN_GRACE_S", _seconds(0, 86400), 30.0),
                progress_deadline_s=env.get(
                    "DOCKYARD_PROGRESS_DEADLINE_S", _seconds(1, 86400), 120.0
                ),
                autoscale_s=env.get("DOCKYARD_AUTOSCALE_INTERVAL_S", _seconds(0.2, 600), 2.0),
            ),
            client=ClientSettings(
                url=env.get("DOCKYARD_URL", _http_url, None),
                token=env.get("DOCKYARD_TOKEN", _nonempty, None),
                config_file=env.get(
                    "DOCKYARD_CONFIG", _path, config_home / "dockyard" / "config.json"
                ),
            ),
            etcd=EtcdSettings(
                endpoints=env.get("DOCKYARD_ETCD_ENDPOINTS", _endpoints, (DEFAULT_ETCD,)),
                endpoints_are_default="DOCKYARD_ETCD_ENDPOINTS" not in environ,
                prefix=env.get("DOCKYARD_ETCD_PREFIX", _etcd_prefix, "/dockyard"),
                leader_ttl_s=env.get("DOCKYARD_LEADER_TTL_S", _int_in(2, 600), 10),
            ),
            ipam=IpamSettings(
                driver_socket=env.get(
                    "DOCKYARD_IPAM_SOCKET", _path, Path("/run/docker/plugins/dockyard.sock")
                ),
                host=env.get("DOCKYARD_HOST_NAME", _nonempty, socket.gethostname()),
                gc_grace_s=env.get("DOCKYARD_IPAM_GC_GRACE_S", _seconds(0, 86400), 60.0),
                gc_interval_s=env.get("DOCKYARD_IPAM_GC_INTERVAL_S", _seconds(0.1, 3600), 10.0),
                uplink=env.get("DOCKYARD_UPLINK", _ifname, None),
                host_ttl_s=env.get("DOCKYARD_IPAM_HOST_TTL_S", _int_in(2, 3600), 15),
                host_grace_s=env.get("DOCKYARD_IPAM_HOST_GRACE_S", _seconds(0, 7 * 86400), 600.0),
            ),
            bandwidth=BandwidthSettings(
                interval_s=env.get("DOCKYARD_BANDWIDTH_INTERVAL_S", _seconds(0.1, 3600), 10.0),
                server_url=env.get("DOCKYARD_AGENT_SERVER_URL", _http_url, None),
                token=env.get("DOCKYARD_AGENT_TOKEN", _nonempty, None),
            ),
            images=_image_settings(env, environ, state_dir),
            logs=_log_settings(env, environ, state_dir),
            log_level=env.get("DOCKYARD_LOG_LEVEL", _log_level, "info"),
            metrics=_metrics_settings(env),
            monitoring=_monitoring_settings(env, state_dir),
            smtp=_smtp_settings(env),
            alarms=AlarmSettings(
                builtin=env.get("DOCKYARD_BUILTIN_ALARMS", _flag, True),
                no_ready_grace_s=env.get("DOCKYARD_NO_READY_GRACE_S", _seconds(0, 3600), 30.0),
            ),
            balancer=_balancer_settings(env),
            names=_names_settings(env),
        )


class _Reader:
    """Reads one variable at a time, turning a parser's ValueError into Invalid(field=name)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._environ.get(name)
        if raw is None:
            return default
        try:
            return parse(raw.strip())
        except ValueError as exc:
            raise Invalid(f"{name}={raw!r} is invalid: {exc}", field=name) from None


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError("it is empty: set a value or unset the variable")
    return raw


def _path(raw: str) -> Path:
    path = Path(_nonempty(raw)).expanduser()
    if not path.is_absolute():
        raise ValueError("use an absolute path")
    return path


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"use a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"use a whole number from {low} to {high}")
        return value

    return parse


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"use a number of seconds from {low:g} to {high:g}") from None
        if not low <= value <= high:  # also refuses nan
            raise ValueError(f"use a number of seconds from {low:g} to {high:g}")
        return value

    return parse


def _database_url(raw: str) -> str:
    # Plain postgresql:// would pick psycopg2, which is not installed: name the driver.
    if not raw.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return raw


def _docker_settings(env: _Reader, environ: Mapping[str, str]) -> DockerSettings:
    root = env.get("DOCKYARD_DOCKERD_ROOT", _path, None)
    own_socket = f"unix://{root / 'docker.sock'}" if root else DEFAULT_DOCKER_HOST
    host = env.get("DOCKYARD_DOCKER_HOST", _docker_host, own_socket)
    if root is not None and not host.startswith("unix://"):
        # The platform's own dockerd listens only on a unix socket: no TCP port to secure.
        raise Invalid(
            f"DOCKYARD_DOCKERD_ROOT is set but DOCKYARD_DOCKER_HOST={host!r} is not a unix "
            "socket: unset DOCKYARD_DOCKER_HOST (the engine then answers at "
            "unix://ROOT/docker.sock) or name a unix:///PATH",
            field="DOCKYARD_DOCKER_HOST",
        )
    return DockerSettings(
        host=host,
        host_is_default="DOCKYARD_DOCKER_HOST" not in environ and root is None,
        network=env.get("DOCKYARD_DOCKER_NETWORK", _nonempty, "dockyard"),
        parallel_starts=env.get("DOCKYARD_PARALLEL_STARTS", _int_in(1, 64), 4),
        dockerd_root=root,
    )


def _docker_host(raw: str) -> str:
    if not (raw.startswith("unix:///") or raw.startswith("tcp://")):
        raise ValueError("use unix:///PATH/docker.sock or tcp://HOST:PORT")
    return raw


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or len(raw) <= len("https://"):
        raise ValueError("use http://HOST:PORT or https://HOST")
    return raw.rstrip("/")


def _public_url(raw: str) -> str:
    parts = urlsplit(raw)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or "?" in raw
        or "#" in raw
    ):
        raise ValueError(
            "use the http:// or https:// URL users reach the server at, e.g. "
            "https://dockyard.example.com or https://example.com/dockyard "
            "(no user, query or fragment)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    return raw.rstrip("/")


def _endpoints(raw: str) -> tuple[str, ...]:
    endpoints = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    if not endpoints or not all(e.startswith("http://") and len(e) > 7 for e in endpoints):
        raise ValueError("use http://HOST:PORT[,http://HOST:PORT...]")
    return endpoints


def _ifname(raw: str) -> str:
    # What the kernel accepts as an interface name (dev_valid_name), and room for nothing else.
    if not 0 < len(raw) <= 15 or raw in (".", "..") or any(c in raw for c in "/: \t"):
        raise ValueError("use a network interface's name, e.g. eth1 (1-15 characters)")
    return raw


def _etcd_prefix(raw: str) -> str:
    if not raw.startswith("/") or raw.endswith("/") or " " in raw:
        raise ValueError("use an absolute key prefix without a trailing '/', e.g. /dockyard")
    return raw


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _log_level(raw: str) -> str:
    return _choice(LOG_LEVELS)(raw)


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(f"use one of {', '.join(choices)}")
        return raw.lower()

    return parse


@dataclass(frozen=True)
class ClientCredentials:
    """What a client needs to call the API: the server's URL and a bearer token."""

    url: str
    token: str


def read_credentials(path: Path) -> ClientCredentials | None:
    """The credentials stored at `path`, or None if there are none we may read.

    A file we lack permission to read (the root-only local credentials, for a non-root user)
    counts as none. A malformed file raises Invalid naming it.
    """
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise Invalid(
            f"cannot read credentials file {path}: {exc}; fix it or delete it and log in again",
            field="credentials",
        ) from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("url"), str)
        and isinstance(data.get("token"), str)
    ):
        raise Invalid(
            f"credentials file {path} lacks a string url and token; "
            "delete it and log in again with `dockyard login URL --token TOKEN`",
            field="credentials",
        )
    return ClientCredentials(url=data["url"].rstrip("/"), token=data["token"])


def write_credentials(path: Path, credentials: ClientCredentials) -> None:
    """Store `credentials` at `path`, readable by the owner only (file 0600, new folders 0700).

    The file is replaced atomically, so a reader never sees half a token.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"url": credentials.url, "token": credentials.token}, file, indent=2)
        file.write("\n")
    os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by umask; be exact
    os.replace(temporary, path)


# --- the image center (dockyard.images) --------------------------------------------------------


def _image_settings(env: _Reader, environ: Mapping[str, str], state_dir: Path) -> ImageSettings:
    address = env.get("DOCKYARD_REGISTRY", _registry_address, DEFAULT_REGISTRY)
    loopback = address.split(":")[0] in ("127.0.0.1", "localhost")
    storage = env.get("DOCKYARD_REGISTRY_STORAGE", _storage_kind, StorageKind.FILESYSTEM)
    return ImageSettings(
        registry=RegistrySettings(
            address=address,
            root=state_dir / "registry",
            storage=storage,
            s3=_s3_storage(env) if storage is StorageKind.S3 else None,
            swift=_swift_storage(env) if storage is StorageKind.SWIFT else None,
            managed=env.get("DOCKYARD_REGISTRY_MANAGED", _flag, loopback),
            redirect=env.get("DOCKYARD_REGISTRY_REDIRECT", _flag, True),
        ),
        builds=BuildSettings(
            work_dir=state_dir / "builds",
            concurrency=env.get("DOCKYARD_BUILD_CONCURRENCY", _int_in(1, 16), 1),
            timeout_s=env.get("DOCKYARD_BUILD_TIMEOUT_S", _seconds(10, 86400), 1800.0),
            lease_s=env.get("DOCKYARD_BUILD_LEASE_S", _seconds(1, 3600), 30.0),
            buildkit=env.get("DOCKYARD_BUILDKIT", _flag, True),
        ),
        debian_mirror=env.get("DOCKYARD_DEBIAN_MIRROR", _http_url, "http://deb.debian.org/debian"),
        retention=RetentionSettings(
            keep_revisions=env.get("DOCKYARD_RETENTION_KEEP", _int_in(1, 1000), 5),
            min_age_s=env.get("DOCKYARD_RETENTION_MIN_AGE_S", _seconds(0, 365 * 86400), 86400.0),
        ),
        sources=SourceSettings(
            roots=env.get("DOCKYARD_SOURCE_ROOTS", _paths, (state_dir / "sources",)),
            hosted_dir=state_dir / "git",
            max_push_bytes=env.get("DOCKYARD_GIT_MAX_BODY_MB", _int_in(1, 1024 * 1024), 512)
            * 1024
            * 1024,
            git_timeout_s=env.get("DOCKYARD_GIT_TIMEOUT_S", _seconds(1, 7 * 86400), 3600.0),
            retired_keep_s=env.get("DOCKYARD_GIT_KEEP_DELETED_DAYS", _int_in(0, 3650), 30)
            * 86400.0,
        ),
    )


def _log_settings(env: _Reader, environ: Mapping[str, str], state_dir: Path) -> LogSettings:
    logs = state_dir / "logcenter"
    index_retention = env.get(
        "DOCKYARD_LOG_INDEX_DAYS", functools.partial(parse_days, most=3650), Days(7)
    )
    archive_retention = env.get(
        "DOCKYARD_LOG_ARCHIVE_DAYS", functools.partial(parse_days, most=36500), Days(90)
    )
    return LogSettings(
        nats_urls=env.get("DOCKYARD_NATS_URLS", _nats_urls, (DEFAULT_NATS,)),
        nats_urls_are_default="DOCKYARD_NATS_URLS" not in environ,
        stream_max_bytes=env.get(
            "DOCKYARD_LOG_STREAM_MAX_BYTES", _int_in(1 << 20, 1 << 50), 4 << 30
        ),
        max_line_bytes=env.get("DOCKYARD_LOG_MAX_LINE_BYTES", _int_in(256, 1 << 24), 16 << 10),
        checkpoint_dir=env.get("DOCKYARD_LOG_CHECKPOINT_DIR", _path, logs / "checkpoints"),
        files_dir=env.get("DOCKYARD_LOG_FILES_DIR", _path, logs / "files"),
        index_dir=env.get("DOCKYARD_LOG_INDEX_DIR", _path, logs / "index"),
        index_engine=env.get("DOCKYARD_LOG_INDEX_ENGINE", _choice(LOG_INDEX_ENGINES), "tantivy"),
        archive_url=env.get("DOCKYARD_LOG_ARCHIVE_URL", _nonempty, str(logs / "archive")),
        index_days=index_retention.default,
        archive_days=archive_retention.default,
        rate_default=env.get("DOCKYARD_LOG_RATE_DEFAULT", _int_in(0, 1_000_000), 10_000),
        sweep_grace_s=env.get("DOCKYARD_LOG_SWEEP_GRACE_S", _seconds(1, 30 * 86400), 3600.0),
        index_retention=index_retention,
        archive_retention=archive_retention,
        index_caps=_log_caps(env),
        retention_every_s=env.get("DOCKYARD_LOG_RETENTION_EVERY_S", _seconds(1, 86400), 600.0),
        archive_s3=_archive_s3(env),
        archive_cap_bytes=env.get("DOCKYARD_LOG_ARCHIVE_CAP_BYTES", parse_size, None),
    )


def _log_caps(env: _Reader) -> Caps:
    host = env.get("DOCKYARD_LOG_INDEX_CAP_BYTES", parse_size, None)
    no_caps: tuple[int | None, dict[str, int]] = (None, {})
    team, teams = env.get("DOCKYARD_LOG_TEAM_CAP_BYTES", parse_caps, no_caps)
    return Caps(host=host, team=team, teams=teams)


def _archive_s3(env: _Reader) -> ArchiveS3:
    key = env.get("DOCKYARD_LOG_ARCHIVE_S3_KEY", _nonempty, None)
    secret = env.get("DOCKYARD_LOG_ARCHIVE_S3_SECRET", _nonempty, None)
    if (key is None) != (secret is None):  # one alone would be dropped silently
        name = "DOCKYARD_LOG_ARCHIVE_S3_" + ("SECRET" if secret is None else "KEY")
        raise Invalid(
            f"{name} is missing: set DOCKYARD_LOG_ARCHIVE_S3_KEY and _SECRET together, "
            "or neither to use the host's AWS credentials",
            field=name,
        )
    return ArchiveS3(
        endpoint=env.get("DOCKYARD_LOG_ARCHIVE_S3_ENDPOINT", _http_url, None),
        key=key,
        secret=secret,
        region=env.get("DOCKYARD_LOG_ARCHIVE_S3_REGION", _nonempty, None),
    )


def _metrics_settings(env: _Reader) -> MetricsSettings:
    default = MetricsSettings()
    return MetricsSettings(
        agent_addr=env.get("DOCKYARD_AGENT_METRICS_ADDR", _listen_addr, default.agent_addr),
        indexer_addr=env.get("DOCKYARD_INDEXER_METRICS_ADDR", _listen_addr, default.indexer_addr),
        archiver_addr=env.get(
            "DOCKYARD_ARCHIVER_METRICS_ADDR", _listen_addr, default.archiver_addr
        ),
        agent_interval_s=env.get(
            "DOCKYARD_AGENT_METRICS_INTERVAL_S", _seconds(0.1, 3600), default.agent_interval_s
        ),
        docker_root=env.get("DOCKYARD_DOCKER_ROOT", _path, default.docker_root),
    )


def _monitoring_settings(env: _Reader, state_dir: Path) -> MonitoringSettings:
    default_token = state_dir / "alertmanager" / "webhook.token"
    return MonitoringSettings(
        prometheus_url=env.get("DOCKYARD_PROMETHEUS_URL", _http_url, DEFAULT_PROMETHEUS),
        alertmanager_url=env.get("DOCKYARD_ALERTMANAGER_URL", _http_url, DEFAULT_ALERTMANAGER),
        retention=env.get("DOCKYARD_PROMETHEUS_RETENTION", _prometheus_duration, "15d"),
        scrape_interval_s=env.get("DOCKYARD_SCRAPE_INTERVAL_S", _seconds(1, 3600), 10.0),
        remote_write_url=env.get("DOCKYARD_PROMETHEUS_REMOTE_WRITE_URL", _http_url, None),
        webhook_token_file=env.get("DOCKYARD_ALERT_WEBHOOK_TOKEN_FILE", _path, default_token),
    )


def _smtp_settings(env: _Reader) -> SmtpSettings | None:
    host = env.get("DOCKYARD_SMTP_HOST", _nonempty, None)
    if host is None:
        return None
    default = SmtpSettings(host=host)
    return SmtpSettings(
        host=host,
        port=env.get("DOCKYARD_SMTP_PORT", _int_in(1, 65535), default.port),
        sender=env.get("DOCKYARD_SMTP_FROM", _nonempty, default.sender),
        username=env.get("DOCKYARD_SMTP_USER", _nonempty, None),
        password=env.get("DOCKYARD_SMTP_PASSWORD", _nonempty, None),
        starttls=env.get("DOCKYARD_SMTP_STARTTLS", _flag, default.starttls),
    )


def _balancer_settings(env: _Reader) -> BalancerSettings:
    default = BalancerSettings()
    return BalancerSettings(
        http_addr=env.get("DOCKYARD_BALANCER_HTTP_ADDR", _listen_addr, default.http_addr),
        metrics_addr=env.get("DOCKYARD_BALANCER_METRICS_ADDR", _listen_addr, default.metrics_addr),
        domain=env.get(
            "DOCKYARD_BALANCER_DOMAIN", _zone, env.get("DOCKYARD_DNS_ZONE", _zone, default.domain)
        ),
        tcp_ports=env.get("DOCKYARD_BALANCER_TCP_PORTS", _port_range, default.tcp_ports),
        drain_s=env.get("DOCKYARD_BALANCER_DRAIN_S", _seconds(0, 3600), default.drain_s),
    )


def _port_range(raw: str) -> range:
    """FIRST-LAST, both ports, FIRST <= LAST."""
    first, sep, last = raw.strip().partition("-")
    if (
        not sep
        or not first.isdigit()
        or not last.isdigit()
        or not 1 <= int(first) <= int(last) <= 65535
    ):
        raise ValueError(f"{raw!r} is not a port range FIRST-LAST (e.g. 20000-20499)")
    return range(int(first), int(last) + 1)


def _names_settings(env: _Reader) -> NamesSettings:
    default = NamesSettings()
    return NamesSettings(
        enabled=env.get("DOCKYARD_DNS", _flag, default.enabled),
        zone=env.get("DOCKYARD_DNS_ZONE", _zone, default.zone),
        ttl_s=env.get("DOCKYARD_DNS_TTL_S", _int_in(1, 5), default.ttl_s),
        pdns_addr=env.get("DOCKYARD_PDNS_ADDR", _host_port, default.pdns_addr),
        listen=env.get("DOCKYARD_DNS_LISTEN", _addresses, default.listen),
        port=env.get("DOCKYARD_DNS_PORT", _int_in(1, 65535), default.port),
        resolvers=env.get("DOCKYARD_DNS_RESOLVERS", _addresses, default.resolvers),
        upstreams=env.get("DOCKYARD_DNS_UPSTREAMS", _upstreams, default.upstreams),
    )


def _zone(raw: str) -> str:
    zone = raw.strip().rstrip(".").lower()
    labels = zone.split(".")
    if not all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels):
        raise ValueError(f"{raw!r} is not a DNS zone name: use labels of a-z, 0-9 and -")
    return zone


def _host_port(raw: str) -> str:
    address = _listen_addr(raw)
    if not address or address.endswith(":0"):
        raise ValueError(f"{raw!r} is not HOST:PORT with a port, e.g. 127.0.0.1:5300")
    return address


def _listed(raw: str) -> tuple[str, ...]:
    """The comma-separated items of `raw`, stripped; empty ones left out."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _addresses(raw: str) -> tuple[str, ...]:
    found = _listed(raw)
    for address in found:
        ipaddress.ip_address(address)  # ValueError names it
    return found


def _upstreams(raw: str) -> tuple[str, ...]:
    found = _listed(raw)
    for upstream in found:
        address, _, port = upstream.partition("#")
        ipaddress.ip_address(address)
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"{upstream!r}: use ADDR or ADDR#PORT")
    return found


def _prometheus_duration(raw: str) -> str:
    """A number and one of Prometheus's units (ms s m h d w y), e.g. 15d."""
    number, unit = raw.rstrip("smhdwy"), raw[len(raw.rstrip("smhdwy")) :]
    if not number.isdigit() or int(number) == 0 or unit not in ("ms", "s", "m", "h", "d", "w", "y"):
        raise ValueError("use a positive whole number and a unit (ms s m h d w y), e.g. 15d")
    return raw


def _on_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or _is_loopback(host)


def _listen_addr(raw: str) -> str:
    """HOST:PORT (port 0: any free one), or empty for none."""
    raw = raw.strip()
    if not raw:
        return ""
    host, sep, port = raw.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{raw!r} is not HOST:PORT (e.g. 127.0.0.1:9465), nor empty for none")
    return raw


def _nats_urls(raw: str) -> tuple[str, ...]:
    urls = _listed(raw)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ValueError(f"{url!r} is not nats://HOST:PORT or tls://HOST:PORT")
    if not urls:
        raise ValueError("give at least one nats://HOST:PORT")
    return urls


def _paths(raw: str) -> tuple[Path, ...]:
    """Absolute paths separated by ':' (as in PATH); empty: none at all."""
    return tuple(_path(part) for part in raw.split(":") if part.strip())


def _s3_storage(env: _Reader) -> S3Storage:
    access_key = env.get("DOCKYARD_REGISTRY_S3_ACCESS_KEY", _nonempty, None)
    secret_key = env.get("DOCKYARD_REGISTRY_S3_SECRET_KEY", _nonempty, None)
    if (access_key is None) != (secret_key is None):  # one alone would be dropped silently
        name = "DOCKYARD_REGISTRY_S3_" + ("SECRET_KEY" if secret_key is None else "ACCESS_KEY")
        raise Invalid(
            f"{name} is missing: set DOCKYARD_REGISTRY_S3_ACCESS_KEY and _SECRET_KEY together, "
            "or neither to use the host's AWS credentials",
            field=name,
        )
    return S3Storage(
        bucket=env.get("DOCKYARD_REGISTRY_S3_BUCKET", _nonempty, "")
        or _missing("DOCKYARD_REGISTRY_S3_BUCKET", "s3"),
        region=env.get("DOCKYARD_REGISTRY_S3_REGION", _nonempty, "us-east-1"),
        endpoint=env.get("DOCKYARD_REGISTRY_S3_ENDPOINT", _http_url, None),
        access_key=access_key,
        secret_key=secret_key,
        root_directory=env.get("DOCKYARD_REGISTRY_S3_ROOT", _nonempty, "/dockyard"),
    )


def _swift_storage(env: _Reader) -> SwiftStorage:
    def required(name: str) -> str:
        return env.get(name, _nonempty, "") or _missing(name, "swift")

    return SwiftStorage(
        auth_url=env.get("DOCKYARD_REGISTRY_SWIFT_AUTH_URL", _swift_auth_url, "")
        or _missing("DOCKYARD_REGISTRY_SWIFT_AUTH_URL", "swift"),
        username=required("DOCKYARD_REGISTRY_SWIFT_USERNAME"),
        password=required("DOCKYARD_REGISTRY_SWIFT_PASSWORD"),
        container=required("DOCKYARD_REGISTRY_SWIFT_CONTAINER"),
        tenant=env.get("DOCKYARD_REGISTRY_SWIFT_TENANT", _nonempty, ""),
        domain=env.get("DOCKYARD_REGISTRY_SWIFT_DOMAIN", _nonempty, "default"),
        region=env.get("DOCKYARD_REGISTRY_SWIFT_REGION", _nonempty, ""),
    )


def _swift_auth_url(raw: str) -> str:
    url = _http_url(raw)
    if swift_auth_version(url) is None:
        raise ValueError(
            "name the auth version in the path: https://KEYSTONE:5000/v3, .../v2.0, "
            "or http://PROXY:8080/auth/v1.0 (tempauth)"
        )
    return url


def _missing(name: str, storage: str) -> str:
    raise Invalid(f"{name} is required with DOCKYARD_REGISTRY_STORAGE={storage}", field=name)


def _registry_address(raw: str) -> str:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or "/" in raw or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("use HOST:PORT, e.g. 127.0.0.1:5000 (no scheme, no path)")
    return raw


def _storage_kind(raw: str) -> StorageKind:
    try:
        return StorageKind(raw.lower())
    except ValueError:
        raise ValueError(f"use one of {', '.join(kind.value for kind in StorageKind)}") from None


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")
