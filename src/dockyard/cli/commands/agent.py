"""`agent`: the per-host process (Docker IPAM driver, segment networks, address collection)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dockyard.cli.context import session
from dockyard.settings import Settings, read_credentials

if TYPE_CHECKING:  # imported when run: only the agent needs its stack
    from prometheus_client.registry import Collector

    from dockyard.logs.shipper import Shipper
    from dockyard.logs.stats import Report
    from dockyard.metrics.instances import InstanceCollector


def agent(
    ctx: typer.Context,
    *,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="One pass (networks, collection, deleted segments), then exit."
        ),
    ] = False,
) -> None:
    """Run this host's agent in the foreground; Ctrl-C stops it (`dockyard up` starts it)."""
    settings = session(ctx).settings
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request at INFO: one per container start and pass would bury the rest.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    from dockyard.agent.main import PartEnded

    try:
        asyncio.run(_run(settings, once=once))
    except PartEnded as exc:  # logged with its traceback where it ended
        logging.getLogger("dockyard.agent").error("agent exiting with status 1: %s", exc)
        raise typer.Exit(1) from exc


def _bandwidth(settings: Settings) -> Coroutine[Any, Any, None] | None:
    """The bandwidth enforcer as an agent part, or None (logged) when it has no API token."""
    creds = read_credentials(settings.paths.credentials_file)
    url = settings.bandwidth.server_url or (creds.url if creds else settings.listen.local_url)
    token = settings.bandwidth.token or (creds.token if creds else None)
    if token is None:
        logging.getLogger("dockyard.agent").warning(
            "bandwidth limits off: no API token (set DOCKYARD_AGENT_TOKEN, or run on the "
            "server's host where %s holds one)",
            settings.paths.credentials_file,
        )
        return None
    return _run_enforcer(
        docker_host=settings.docker.host,
        server_url=url,
        token=token,
        interval_s=settings.bandwidth.interval_s,
    )


async def _run_enforcer(
    *, docker_host: str, server_url: str, token: str, interval_s: float
) -> None:
    """Connect, run and close the enforcer in one worker thread: it is thread-based (netlink
    and Docker events block), and pyroute2's synchronous API cannot be opened inside a running
    event loop. Cancellation sets its stop flag."""
    from dockyard.agent.bandwidth import BandwidthEnforcer

    stop = threading.Event()

    def run() -> None:
        enforcer = BandwidthEnforcer.connect(
            docker_host=docker_host, server_url=server_url, token=token, interval_s=interval_s
        )
        try:
            enforcer.run(stop)
        finally:
            enforcer.close()

    try:
        await asyncio.to_thread(run)
    finally:
        stop.set()


def _logs(settings: Settings, collectors: list[Collector]) -> Coroutine[Any, Any, None]:
    """The log shipper as an agent part: this host's containers' console logs to JetStream.
    With an API token it ships only this platform's containers, else every Dockyard one.
    `collectors` are served beside its metrics (the host's and its instances' figures)."""
    creds = read_credentials(settings.paths.credentials_file)
    url = settings.bandwidth.server_url or (creds.url if creds else settings.listen.local_url)
    token = settings.bandwidth.token or (creds.token if creds else None)
    return _ship_logs(settings, server_url=url, token=token, collectors=collectors)


def _metrics(settings: Settings) -> tuple[Coroutine[Any, Any, None], list[Collector]]:
    """The host's and its instances' collectors, and the agent part that keeps the listing of
    this host's containers fresh (with an engine client of its own: the listing runs in a
    worker thread beside the other parts' calls)."""
    import docker

    from dockyard.agent.metrics import DockerContainers
    from dockyard.metrics.host import HostCollector
    from dockyard.metrics.instances import InstanceCollector

    metrics = settings.metrics
    client = docker.APIClient(base_url=settings.docker.host, version="1.41", timeout=60)
    instances = InstanceCollector(
        DockerContainers(client), host=settings.ipam.host, list_every_s=metrics.agent_interval_s
    )
    paths = [str(metrics.docker_root), str(settings.paths.state_dir)]
    hosts = HostCollector(host=settings.ipam.host, paths=paths, instances=instances.running)
    return _list_containers(instances, client), [instances, hosts]


async def _list_containers(instances: InstanceCollector, client: Any) -> None:
    try:
        await instances.run()
    finally:
        client.close()


async def _ship_logs(
    settings: Settings, *, server_url: str, token: str | None, collectors: list[Collector]
) -> None:
    """Run the log part until cancelled, then close what it opened."""
    import docker

    from dockyard.agent.limits import PlatformLimits
    from dockyard.agent.logs import ConsoleLogs
    from dockyard.logs.budget import Rate
    from dockyard.logs.checkpoint import CheckpointStore
    from dockyard.logs.jetstream import JetStreamLogStream
    from dockyard.logs.shipper import Shipper

    logs = settings.logs
    stream = JetStreamLogStream(logs.nats_urls, max_bytes=logs.stream_max_bytes)
    engine = docker.APIClient(base_url=settings.docker.host, version="1.41", timeout=60)
    platform = PlatformLimits.connect(server_url, token) if token else None
    shipper = Shipper(
        stream, CheckpointStore(logs.checkpoint_dir), max_line_bytes=logs.max_line_bytes
    )
    part = ConsoleLogs(
        engine=engine,
        shipper=shipper,
        platform=platform,
        host=settings.ipam.host,
        files_dir=logs.files_dir,  # declared log files are read only from under it
        default_rate=Rate(logs.rate_default),
        sweep_grace_s=logs.sweep_grace_s,
    )
    stats = asyncio.create_task(_log_stats(settings, shipper, collectors))
    try:
        await part.run()
    finally:
        stats.cancel()
        await asyncio.gather(stats, return_exceptions=True)
        engine.close()
        if platform is not None:
            platform.close()
        await stream.close()


async def _log_stats(settings: Settings, shipper: Shipper, collectors: list[Collector]) -> None:
    """The shipper's counters per instance, every few seconds to the log stats board (for the
    server) and as metrics on DOCKYARD_AGENT_METRICS_ADDR, with those of `collectors`."""
    from dockyard.logs.stats import agent_report
    from dockyard.metrics.log_reporting import report_log_stats

    def make(now_ns: int) -> Report:
        return agent_report(shipper.counters, host=settings.ipam.host, now_ns=now_ns)

    try:
        await report_log_stats(
            make,
            addr=settings.metrics.agent_addr,
            nats_urls=settings.logs.nats_urls,
            collectors=collectors,
        )
    except Exception:  # it runs beside the shipper, whose end alone ends the part: say why
        logging.getLogger("dockyard.agent").exception("log stats and metrics stopped")
        raise


async def _alarms(settings: Settings) -> None:
    """The built-in alarms from this host's engine events, posted to Alertmanager, until
    cancelled; then close what it opened."""
    import docker
    import httpx

    from dockyard.agent.event_alarms import EventAlarms
    from dockyard.metrics.alert_outbox import AlertOutbox

    engine = docker.APIClient(base_url=settings.docker.host, version="1.41", timeout=None)
    async with httpx.AsyncClient(timeout=10.0) as client:
        outbox = AlertOutbox(settings.monitoring.alertmanager_url, client=client)
        try:
            await EventAlarms(engine, outbox, host=settings.ipam.host).run()
        finally:
            engine.close()


async def _run(settings: Settings, *, once: bool) -> None:
    # Imported here: only this command needs the agent's stack loaded.
    import docker

    from dockyard import __version__
    from dockyard.agent.ipam import IpamAgent, IpamAgentConfig
    from dockyard.agent.liveness import HostBeacon
    from dockyard.agent.main import run_parts
    from dockyard.agent.segment_sweep import SegmentSweeper
    from dockyard.domain.clock import utcnow
    from dockyard.network.ipam.client import Ipam

    ipam = Ipam.connect(settings.etcd.endpoints, prefix=settings.etcd.prefix, clock=utcnow)
    # A fixed API version (Debian's engine speaks 1.41, newer ones accept it): "auto" would ask
    # the engine at once, and the driver must serve even while the engine is still starting.
    engine = docker.APIClient(base_url=settings.docker.host, version="1.41", timeout=60)
    config = IpamAgentConfig(
        host=settings.ipam.host,
        socket=settings.ipam.driver_socket,
        driver_name=settings.ipam.driver_socket.name.removesuffix(".sock"),
        grace=timedelta(seconds=settings.ipam.gc_grace_s),
        interval_s=settings.ipam.gc_interval_s,
        host_grace=timedelta(seconds=settings.ipam.host_grace_s),
        uplink=settings.ipam.uplink,
    )
    ipam_agent = IpamAgent(ipam, engine, config=config, clock=utcnow)
    sweeper = SegmentSweeper(
        ipam.directory,
        engine,
        clock=utcnow,
        driver=config.driver_name,
        grace=config.grace,
        interval_s=config.interval_s,
    )
    beacon = HostBeacon(
        ipam.hosts,
        host=settings.ipam.host,
        version=__version__,
        ttl_s=settings.ipam.host_ttl_s,
        clock=utcnow,
    )
    try:
        if once:
            await beacon.beat()  # a collector judges other hosts only while it is alive itself
            released = await ipam_agent.run_pass()
            typer.echo(f"ipam: one pass done, {released} addresses collected")
            swept = await sweeper.run_pass()
            typer.echo(f"segments: networks of deleted segments removed: {len(swept)}")
            return
        parts = {"liveness": beacon.run(), "ipam": ipam_agent.run(), "segments": sweeper.run()}
        shaping = _bandwidth(settings)
        if shaping is not None:
            parts["bandwidth"] = shaping
        listing, collectors = _metrics(settings)
        parts["metrics"] = listing
        parts["logs"] = _logs(settings, collectors)
        if settings.alarms.builtin:
            parts["alarms"] = _alarms(settings)
        await run_parts(parts)
    finally:
        engine.close()
        await ipam.close()


def register(app: typer.Typer) -> None:
    app.command()(agent)
