"""The composition root of `dockyard server`: one process serving the API and the portal and
running the controllers, all over one database and one runtime.

The process keeps no state of its own beyond the database: it may be killed at any moment and
started again, and the controllers pick up where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

from dockyard.api.app import build_api
from dockyard.api.deps import ApiDeps
from dockyard.api.imaging import ImageCenter, install_image_center
from dockyard.controller.autoscaler import Autoscaler
from dockyard.controller.manager import Manager
from dockyard.controller.networks import DockerSegmentNetworks
from dockyard.controller.readiness_alarms import ReadinessWatch
from dockyard.domain.clock import Clock, utcnow
from dockyard.domain.errors import DockyardError
from dockyard.domain.instance import Owner
from dockyard.domain.status import EnvKey
from dockyard.images.builder import Builder
from dockyard.images.follower import Follower
from dockyard.images.pinning import ImagePinner
from dockyard.images.registry import RegistryClient
from dockyard.logs.archive import Archive
from dockyard.logs.build_shipper import BuildLogShipper
from dockyard.logs.center import LogCenter
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.index import open_engine
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.record import BUILD_ENV
from dockyard.logs.stats_board import JetStreamStatsBoard
from dockyard.metrics.agent_figures import AgentReader
from dockyard.metrics.alarm_center import AlarmCenter, receivers_deliver
from dockyard.metrics.alert_outbox import AlertOutbox
from dockyard.metrics.alertmanager_client import AlertmanagerClient
from dockyard.metrics.prometheus_api import PrometheusReader
from dockyard.metrics.prometheus_config import PrometheusLayout
from dockyard.metrics.readiness_alarms import ReadinessAlarms, ReadinessRules
from dockyard.metrics.rule_publisher import RulePublisher, team_confine
from dockyard.network.etcd import Etcd
from dockyard.network.ipam.client import Ipam
from dockyard.network.ipam.publish import publish_segments
from dockyard.network.leader import Candidate, Election
from dockyard.network.nudges import Nudges
from dockyard.portal.app import build_portal
from dockyard.portal.deps import PortalDeps
from dockyard.portal.image_pages import install_builder_wake
from dockyard.runtimes.base import Runtime
from dockyard.runtimes.docker.driver import DockerRuntime
from dockyard.settings import ClientCredentials, Settings, write_credentials
from dockyard.store import alarm_rules, tokens
from dockyard.store.db import Database
from dockyard.store.platform import this_platform

log = logging.getLogger("dockyard.server")
GRACEFUL_STOP_S = 3
"""How long a stopping server lets open requests finish before it cancels them (watch streams
included; their followers reconnect to the next server)."""
AGENT_SILENT_S = 60.0
"""No beat from the agent's log part for this long: no agent runs on this host."""
DNS_PORT = 53
"""The only port a container's resolver can be asked on (Docker takes addresses alone)."""


@dataclass(frozen=True)
class Parts:
    """What the server is made of; tests build one with a fake runtime."""

    db: Database
    runtime: Runtime
    manager: Manager
    clock: Clock
    settings: Settings
    registry: RegistryClient
    builder: Builder
    follower: Follower
    ipam: Ipam | None = None
    election: Election | None = None
    """None: this server is the only one and always leads (no DOCKYARD_ETCD_ENDPOINTS)."""
    nudges: Nudges | None = None
    """With an election: how a standby tells the leader's controllers of a change at once."""
    notify: Callable[[EnvKey], None] | None = None
    """How the API, the portal and the builder tell controllers of a change; None: the
    manager's own `notify` (a single server)."""
    logs: LogCenter | None = None
    """The log center's read side (the index the indexer process writes, the stream for live
    tails, the archive); None: log routes answer 503."""
    build_logs: BuildLogShipper | None = None
    """Puts every build's log on the log stream while this server leads; None: build logs
    stay in the image center only."""
    autoscaler: Autoscaler | None = None
    """Scales autoscaled environments from the agent's figures while this server leads;
    None: no agent metrics address is set (DOCKYARD_AGENT_METRICS_ADDR empty)."""
    agent_reader: AgentReader | None = None


def build_parts(settings: Settings) -> Parts:
    db = Database.open(settings.database.url)
    # The id in the database, so every server sharing it labels and sees the same containers,
    # and other installations on the same engine see none of them.
    with db.reading() as connection:
        platform = this_platform(connection)
    log.info("platform id=%s adopts_unlabelled=%s", platform.id, platform.adopts_unlabelled)
    runtime = DockerRuntime(
        base_url=settings.docker.host,
        network=settings.docker.network,
        parallel_starts=settings.docker.parallel_starts,
        # Releases pin digests in Dockyard's registry; an engine that lacks one pulls it.
        pull_missing=True,
        platform=platform,
        host=settings.ipam.host,
        # Services' declared log files: the agent on this host reads them from here.
        files_dir=settings.logs.files_dir,
        # Containers resolve service names through this host's dnsmasq (cli/names.py): at
        # the resolvers set, or else on their network's gateway, where it answers by default.
        dns=settings.names.resolvers if settings.names.enabled else (),
        # A container's resolver is asked on port 53: dnsmasq elsewhere is for the host alone.
        dns_from_gateway=settings.names.enabled and settings.names.port == DNS_PORT,
    )
    # Segment networks are made on the runtime's engine, for the agent's IPAM driver there.
    networks = DockerSegmentNetworks(
        base_url=settings.docker.host,
        driver=settings.ipam.driver_socket.name.removesuffix(".sock"),
        host=settings.ipam.host,
    )
    # The agent on this host marks each instance whose console log and declared log files it
    # shipped to the end; the controller waits for that mark before removing a stopped
    # container (one host: the agent's marks are in this host's state directory).
    checkpoints = CheckpointStore(settings.logs.checkpoint_dir)

    def agent_runs() -> bool:
        # The agent says so every 5 s; a minute without is not a restart in progress but an
        # agent that does not run here.
        age = checkpoints.beat_age(time.time())
        return age is not None and age < AGENT_SILENT_S

    manager = Manager(
        db,
        runtime,
        clock=utcnow,
        settings=settings.controller,
        networks=networks,
        logs_shipped=checkpoints.shipped,
        agent_runs=agent_runs,
    )
    election = _election(settings) if settings.etcd.elect_leader else None
    nudges = None
    if election is not None:
        etcd = Etcd(settings.etcd.endpoints, user="Nudging the leader")
        nudges = Nudges(etcd, prefix=settings.etcd.prefix)
    notify = _notifier(manager, election, nudges)
    registry = RegistryClient(settings.images.registry.url)
    builder = Builder(
        db,
        settings=settings.images,
        docker_host=settings.docker.host,
        clock=utcnow,
        notify=notify,
        registry=registry,
    )
    follower = Follower(db, clock=utcnow, notify=notify, interval_s=settings.images.follow_s)
    ipam = Ipam.connect(settings.etcd.endpoints, prefix=settings.etcd.prefix, clock=utcnow)
    # One host: its agent's figures. Several hosts need one reader per agent (not yet).
    reader = AgentReader(settings.metrics.agent_addr) if settings.metrics.agent_addr else None
    autoscaler = None
    if reader is not None:
        autoscaler = Autoscaler(
            db, reader.read, clock=utcnow, interval_s=settings.controller.autoscale_s,
            notify=notify,
        )  # fmt: skip
    return Parts(
        db=db,
        runtime=runtime,
        manager=manager,
        clock=utcnow,
        settings=settings,
        registry=registry,
        builder=builder,
        follower=follower,
        ipam=ipam,
        election=election,
        nudges=nudges,
        notify=notify,
        logs=_log_center(settings),
        build_logs=_build_log_shipper(settings, db),
        autoscaler=autoscaler,
        agent_reader=reader,
    )


def _build_log_shipper(settings: Settings, db: Database) -> BuildLogShipper:
    """Build logs onto the stream, over a connection of their own (made on the first pass:
    the server starts whether or not nats-server is up). Logs of builds older than the index
    keeps build logs (DOCKYARD_LOG_INDEX_DAYS, `build=N`) are not sent: they would be dropped
    at once."""
    logs = settings.logs
    return BuildLogShipper(
        db,
        JetStreamLogStream(logs.nats_urls, max_bytes=logs.stream_max_bytes),
        CheckpointStore(logs.checkpoint_dir / "builds"),
        keep_s=logs.index_retention.of(BUILD_ENV) * 86_400.0,
        max_line_bytes=logs.max_line_bytes,
    )


def _prometheus(settings: Settings) -> PrometheusReader:
    monitoring = settings.monitoring
    return PrometheusReader(monitoring.prometheus_url, monitoring.scrape_interval_s)


def _log_center(settings: Settings) -> LogCenter:
    """The read side of the log center. Nothing here connects yet: the stream is reached on
    the first live tail, so the server starts whether or not nats-server is up."""
    logs = settings.logs
    return LogCenter(
        open_engine(logs.index_engine, logs.index_dir),
        stream=JetStreamLogStream(logs.nats_urls, max_bytes=logs.stream_max_bytes),
        archive=Archive(logs.archive_url),
        index_days=logs.index_days,
        stats=JetStreamStatsBoard(logs.nats_urls),  # reached on the first figures asked
    )


def _notifier(
    manager: Manager, election: Election | None, nudges: Nudges | None
) -> Callable[[EnvKey], None]:
    """Tell this server's controllers of a change to `key`, and the leader's too while this
    server does not lead (its own controllers do not run then)."""

    def notify(key: EnvKey) -> None:
        manager.notify(key)
        if election is not None and nudges is not None and not election.leading:
            nudges.send_soon(key)

    return notify


def _election(settings: Settings) -> Election:
    """This server's campaign to run the controllers, on its own etcd connection whose
    requests time out well inside the leader's refresh deadline."""
    ttl_s = settings.etcd.leader_ttl_s
    etcd = Etcd(settings.etcd.endpoints, timeout_s=min(2.0, ttl_s / 6), user="Leader election")
    me = Candidate(
        host=settings.ipam.host, pid=os.getpid(), started=utcnow().isoformat(timespec="seconds")
    )
    return Election(etcd, key=f"{settings.etcd.prefix}/leader", ttl_s=ttl_s, me=me)


def bootstrap_admin(parts: Parts, settings: Settings) -> None:
    """At first start, create the admin token and hand it to this host's CLI (root-only file)."""
    with parts.db.session() as session:
        secret = tokens.ensure_admin_token(session, now=parts.clock())
    if secret is None:
        return
    path = settings.paths.credentials_file
    write_credentials(path, ClientCredentials(url=settings.listen.local_url, token=secret))
    log.warning("admin token created and written to %s (readable by its owner only)", path)


def build_app(parts: Parts) -> FastAPI:
    """API at /api/v1, portal at /ui, controllers running for the app's lifetime."""
    notify = parts.notify or parts.manager.notify
    app = build_api(
        ApiDeps(
            db=parts.db,
            clock=parts.clock,
            notify=notify,
            ipam=parts.ipam,
            # `ipam check` compares etcd with what the runtime reports now (every instance).
            instances=functools.partial(parts.runtime.list, Owner()),
            public_url=parts.settings.listen.public_url,
            logs=parts.logs,
            alarms=alarm_center(parts.settings, parts.clock),
            metrics=_prometheus(parts.settings),
        )
    )
    _install_image_center(app, parts)
    portal = build_portal(
        PortalDeps(
            db=parts.db,
            clock=parts.clock,
            notify=notify,
            ipam=parts.ipam,
            public_url=parts.settings.listen.public_url,
            logs=parts.logs,
            metrics=_prometheus(parts.settings),
        )
    )
    install_builder_wake(portal, parts.builder.wake)
    app.mount("/ui", portal)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/healthz/parts", include_in_schema=False)
    async def parts_health() -> JSONResponse:
        """Each part and whether it answers, for `dockyard status`."""
        report = {"database": "ok", "engine": "ok", "controller": "ok", "builder": "ok"}
        try:
            await parts.runtime.ping()
        except DockyardError as exc:
            report["engine"] = exc.message
        election = parts.election
        if election is not None and not election.leading:
            if election.problem is not None:
                report["controller"] = f"standing by, cannot campaign: {election.problem}"
        elif not parts.manager.healthy:
            report["controller"] = "not running or cannot read the database"
        if not parts.builder.healthy:
            report["builder"] = "not running or cannot read the database"
        ok = all(value == "ok" for value in report.values())
        return JSONResponse({**report, **_leadership(parts)}, status_code=200 if ok else 503)

    app.router.lifespan_context = _lifespan(parts)
    return app


def alarm_center(settings: Settings, clock: Clock) -> AlarmCenter:
    """Alarms over the configured Prometheus (its rule file in <state>/prometheus/rules) and
    Alertmanager; the webhook takes the token in the monitoring settings' file."""
    monitoring = settings.monitoring
    return AlarmCenter(
        publisher=RulePublisher(
            PrometheusLayout(settings.paths.state_dir / "prometheus"),
            monitoring.prometheus_url,
            team_confine,
        ),
        alertmanager=AlertmanagerClient(monitoring.alertmanager_url),
        webhook_token_file=monitoring.webhook_token_file,
        deliver=receivers_deliver(clock, settings.smtp),
        portal_url=settings.listen.public_url or settings.listen.local_url,
    )


async def _keep_alarm_rules_published(parts: Parts) -> None:
    """Write Prometheus's rule file from the database at start and every resync interval.

    The server that takes a rule change writes the file at once (api/routes/alarm_rules.py);
    this pass puts right what that cannot: a change made through another server (two writers
    racing leave the older text last), a file lost, or a reload Prometheus missed while it was
    down, which is asked for again until it succeeds. Only a changed text is written.
    """
    center = alarm_center(parts.settings, parts.clock)
    unloaded = False

    def publish() -> str | None:
        with parts.db.session() as session:
            rules = alarm_rules.all_rules(session)
        problem = center.publisher.publish(rules)
        return center.publisher.reload() if problem is None and unloaded else problem

    while True:
        try:
            problem = await asyncio.to_thread(publish)
        except DockyardError as exc:
            problem = exc.message
        if problem is not None and not unloaded:
            log.warning("alarm rules not loaded by Prometheus: %s", problem)
        unloaded = problem is not None
        await asyncio.sleep(parts.settings.controller.resync_s)


def _leadership(parts: Parts) -> dict[str, Any]:
    """`leading`: whether this server runs the controllers; `leader`: who does (None: no one
    known now)."""
    if parts.election is None:
        return {"leading": True, "leader": "this server (single server: no election)"}
    return {"leading": parts.election.leading, "leader": parts.election.leader}


def _install_image_center(app: FastAPI, parts: Parts) -> None:
    """The image center's routes (sources, builds, git remotes, promotion) and digest pinning
    of deploys, served with this process's builder and registry."""
    images = parts.settings.images
    install_image_center(
        app,
        ImageCenter(
            registry=parts.registry,
            pinner=ImagePinner(parts.registry, address=images.registry.address),
            wake_builder=parts.builder.wake,
            retention=images.retention,
            build_events=parts.builder.events,
            sources=images.sources,
        ),
    )


def _lifespan(parts: Parts) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Builder for exactly the app's lifetime; controllers and stable follower while this
    server leads, within it."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if parts.nudges is not None:
            parts.nudges.attach(asyncio.get_running_loop())
        await _publish_segments(parts)
        tasks = [
            asyncio.create_task(_keep_segments_published(parts), name="segments"),
            asyncio.create_task(_keep_alarm_rules_published(parts), name="alarm-rules"),
            asyncio.create_task(_lead(parts), name="leader"),
            asyncio.create_task(parts.builder.run(), name="builder"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            parts.builder.close()
            if parts.nudges is not None:
                await parts.nudges.close()
            if parts.ipam is not None:
                await parts.ipam.close()
            if parts.logs is not None:
                await parts.logs.close()
            if parts.build_logs is not None:
                await parts.build_logs.close()
            if parts.agent_reader is not None:
                await parts.agent_reader.close()
            parts.db.close()

    return lifespan


async def _lead(parts: Parts) -> None:
    """Run the controllers and the stable follower while this server leads, until cancelled.
    Builds need no leader: each is claimed by one builder through its database lease."""
    election = parts.election
    if election is None:
        await _term(parts, previous=None)
        return
    term: asyncio.Task[None] | None = None

    def changed(leading: bool) -> None:
        nonlocal term
        previous, term = term, None
        if previous is not None:
            previous.cancel()  # at once: a step-down must stop them before the lease can expire
        if leading:
            term = asyncio.create_task(_term(parts, previous=previous), name="leader-term")

    try:
        await election.run(on_change=changed)
    finally:
        if term is not None:
            term.cancel()
            await asyncio.gather(term, return_exceptions=True)
        await election.resign()


async def _term(parts: Parts, *, previous: asyncio.Task[None] | None) -> None:
    """One term of leadership. The previous term's parts have ended before these start, so
    one Manager never runs twice at once after a quick step-down and re-election."""
    if previous is not None:
        await asyncio.gather(previous, return_exceptions=True)
    # Standbys' nudges are queued like this server's own changes while it leads.
    nudged = [parts.nudges.receive(parts.manager.notify)] if parts.nudges is not None else []
    # One server sends build logs (any server's builds: the logs are in the database).
    shipping = [parts.build_logs.run()] if parts.build_logs is not None else []
    alarms = [_readiness_alarms(parts)] if parts.settings.alarms.builtin else []
    scaling = [parts.autoscaler.run()] if parts.autoscaler is not None else []
    await asyncio.gather(
        parts.manager.run(), parts.follower.run(), *nudged, *shipping, *alarms, *scaling
    )


async def _readiness_alarms(parts: Parts) -> None:
    """The built-in ServiceNoReadyInstances alarm, posted to Alertmanager while this leads."""
    settings = parts.settings
    rules = ReadinessRules(grace=timedelta(seconds=settings.alarms.no_ready_grace_s))
    async with httpx.AsyncClient(timeout=10.0) as client:
        outbox = AlertOutbox(settings.monitoring.alertmanager_url, client=client)
        watch = ReadinessWatch(parts.db, outbox, clock=parts.clock, alarms=ReadinessAlarms(rules))
        await watch.run()


async def _keep_segments_published(parts: Parts) -> None:
    """Publish the segments again every resync interval (only differences are written)."""
    while True:
        await asyncio.sleep(parts.settings.controller.resync_s)
        await _publish_segments(parts)


async def _publish_segments(parts: Parts) -> None:
    """Hand the segments in the database to etcd, where agents and the CNI plugin read them.
    etcd may still be starting: the server starts anyway and IPAM answers 503 until it is up."""
    if parts.ipam is None:
        return
    try:
        await publish_segments(parts.db, parts.ipam.directory)
    except DockyardError as exc:
        log.warning("segments not published to etcd yet: %s", exc.message)


def build_server(settings: Settings) -> FastAPI:
    """The whole server for `settings`: what `dockyard server` runs under uvicorn."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("uvicorn.error").addFilter(_STOP_CANCELLED)  # once, however many apps
    settings.paths.state_dir.mkdir(parents=True, exist_ok=True)
    parts = build_parts(settings)
    bootstrap_admin(parts, settings)
    return build_app(parts)


_UVICORN_STOP = "timeout graceful shutdown exceeded"
"""uvicorn's words, both in its "Cancel N running task(s)" line and in the message of each
task it cancels then."""


class _StopCancelled(logging.Filter):
    """A request the stop cancelled after GRACEFUL_STOP_S (a watch stream, by design) is one
    line of the stop, not an application error with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, asyncio.CancelledError) and _UVICORN_STOP in str(error):
            record.msg, record.args, record.exc_info = "open request ended by the stop", (), None
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif _UVICORN_STOP in record.getMessage():
            # uvicorn's "Cancel N running task(s)": the expected end of open watch streams
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_STOP_CANCELLED = _StopCancelled()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run(build_server(settings), **options)`.

    - httptools parses HTTP in C (pure-Python h11 costs ~20% of the requests/s of a cheap read).
    - The stdlib asyncio loop, not uvloop: on a saturated core uvloop served some connections
      hundreds of milliseconds late (p99 150 ms, max 450 ms where asyncio gave 30 ms and 50 ms,
      same app, 50 clients), which is what a latency target is about.
    - One line per request is logged only at debug level: at a thousand requests a second
      the access log costs CPU and drowns every other line.
    - A stop waits at most GRACEFUL_STOP_S for open requests: the endpoint feed's watchers
      (`dockyard names`, `dockyard balancer`) hold streams that never end by themselves, and
      a server that waited for them would be killed by its supervisor instead, its
      controllers never told to stop.
    """
    return {
        "host": settings.listen.host,
        "port": settings.listen.port,
        "log_level": settings.log_level,
        "loop": "asyncio",
        "http": "httptools",
        "access_log": settings.log_level == "debug",
        "timeout_graceful_shutdown": GRACEFUL_STOP_S,
    }
