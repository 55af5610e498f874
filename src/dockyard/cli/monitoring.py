"""Prometheus and Alertmanager on this host: what `dockyard up` runs, `down` stops and
`status` asks.

Debian's prometheus and prometheus-alertmanager run as programs of this host's supervisor
(cli/supervisor.py), last of all: Alertmanager, then Prometheus, which scrapes the agent, the
indexer and the archiver started just before it, and which nothing else waits for. Dockyard
writes their configuration (metrics/prometheus_config.py, metrics/alertmanager_config.py)
under <state>/prometheus and <state>/alertmanager, and the target file of its own processes;
an `up` that changes a configuration asks the running program to reload it. A URL that is not
on loopback names an existing server: it is never started here, only asked. One elsewhere
that does not answer, or a program not installed, is reported and `up` goes on: nothing else
of the platform needs them; one that `up` starts and that does not get ready ends `up` with
its log's tail, as any other part does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.exc import SQLAlchemyError

from dockyard.cli.processes import Managed, recorded_pid
from dockyard.cli.supervision import host_supervisor, supervise
from dockyard.cli.supervisor import Program
from dockyard.domain.errors import DockyardError
from dockyard.metrics.alarm_center import ensure_webhook_token
from dockyard.metrics.alertmanager_config import alertmanager_config
from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.host_rules import RULES_FILE, host_rules
from dockyard.metrics.prometheus_config import (
    BALANCER_JOB,
    DOCKYARD_JOB,
    JOBS,
    PrometheusLayout,
    Target,
    duration,
    prometheus_config,
    render,
    scrape_address,
)
from dockyard.metrics.rule_publisher import RulePublisher, team_confine
from dockyard.metrics.target_file import write_targets
from dockyard.settings import Settings
from dockyard.store import alarm_rules
from dockyard.store.db import Database

PROMETHEUS_CANDIDATES = ("/usr/bin/prometheus",)
ALERTMANAGER_CANDIDATES = ("/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager")
START_S = 60.0  # Prometheus replays its write-ahead log before it is ready
PROMETHEUS_STOP_S = 30.0  # SIGTERM: it writes its head block out first
ALERTMANAGER_STOP_S = 15.0
PROBE_S = 2.0
OWN_TARGETS = "dockyard"
"""The name of the target file `up` writes for this host's Dockyard processes."""


def prometheus_layout(settings: Settings) -> PrometheusLayout:
    return PrometheusLayout(settings.paths.state_dir / "prometheus")


def alertmanager_dir(settings: Settings) -> Path:
    return settings.paths.state_dir / "alertmanager"


def _find(name: str, candidates: tuple[str, ...]) -> str | None:
    found = shutil.which(name)
    return found or next((p for p in candidates if os.access(p, os.X_OK)), None)


def _listen(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    return f"[{host}]:{parts.port or 80}" if ":" in host else f"{host}:{parts.port or 80}"


def prometheus_process(settings: Settings) -> Managed:
    """Prometheus on the host and port of DOCKYARD_PROMETHEUS_URL, its files in the state dir.

    The lifecycle API is on so that `up` can reload a changed configuration or rule file; it
    listens on loopback only (a URL elsewhere is never run here). Firing alerts are sent again
    at every evaluation, not every minute: one sent before Prometheus has found its
    Alertmanager (just after a start) is dropped, and would otherwise wait a minute.
    """
    monitoring, layout = settings.monitoring, prometheus_layout(settings)
    return Managed(
        name="prometheus",
        argv=(
            _find("prometheus", PROMETHEUS_CANDIDATES) or PROMETHEUS_CANDIDATES[0],
            f"--config.file={layout.config_file}",
            f"--storage.tsdb.path={layout.data_dir}",
            f"--storage.tsdb.retention.time={monitoring.retention}",
            f"--web.listen-address={_listen(monitoring.prometheus_url)}",
            f"--web.external-url={monitoring.prometheus_url}",
            "--web.enable-lifecycle",
            f"--rules.alert.resend-delay={duration(monitoring.scrape_interval_s)}",
        ),
        pid_file=settings.paths.run_dir / "prometheus.pid",
        log_file=settings.paths.logs_dir / "prometheus.log",
    )


def alertmanager_process(settings: Settings) -> Managed:
    """Alertmanager on the host and port of DOCKYARD_ALERTMANAGER_URL, alone: its cluster
    port (0.0.0.0:9094 by default) is turned off, as a single Alertmanager needs no peers."""
    url, root = settings.monitoring.alertmanager_url, alertmanager_dir(settings)
    return Managed(
        name="alertmanager",
        argv=(
            _find("prometheus-alertmanager", ALERTMANAGER_CANDIDATES) or ALERTMANAGER_CANDIDATES[0],
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address={_listen(url)}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
        ),
        pid_file=settings.paths.run_dir / "alertmanager.pid",
        log_file=settings.paths.logs_dir / "alertmanager.log",
    )


def own_targets(settings: Settings) -> list[Target]:
    """This host's Dockyard processes that serve metrics, labelled by component and host."""
    addresses = {
        "agent": settings.metrics.agent_addr,
        "indexer": settings.metrics.indexer_addr,
        "archiver": settings.metrics.archiver_addr,
    }
    host = settings.ipam.host
    return [
        Target(address, {"component": component, "host": host})
        for component, listen in addresses.items()
        if (address := scrape_address(listen)) is not None
    ]


def write_own_targets(settings: Settings) -> bool:
    """The target files of this host's Dockyard processes and balancer; True if one changed."""
    layout = prometheus_layout(settings)
    own = write_targets(layout, DOCKYARD_JOB, OWN_TARGETS, own_targets(settings))
    address = scrape_address(settings.balancer.metrics_addr)
    balancer = [Target(address, {"host": settings.ipam.host})] if address else []
    return write_targets(layout, BALANCER_JOB, OWN_TARGETS, balancer) or own


def write_prometheus_config(settings: Settings) -> bool:
    """prometheus.yml, with the rules and target directories it names, and the built-in host
    alarms' rules file; True if either file changed (a reload is due)."""
    monitoring, layout = settings.monitoring, prometheus_layout(settings)
    # Prometheus watches these directories, and logs an error for each one that is missing.
    for directory in (layout.rules_dir, *(layout.targets_dir(job) for job in JOBS)):
        directory.mkdir(parents=True, exist_ok=True)
    config = prometheus_config(
        layout,
        scrape_interval_s=monitoring.scrape_interval_s,
        alertmanager_url=monitoring.alertmanager_url,
        remote_write_url=monitoring.remote_write_url,
    )
    # The built-in host alarms, in a rules file of their own beside the teams' rules.
    rules = write_if_changed(layout.rules_dir / RULES_FILE, render(host_rules()))
    return write_if_changed(layout.config_file, render(config)) or rules


def write_alertmanager_config(settings: Settings) -> bool:
    """alertmanager.yml, and the webhook token it sends, made once; True if either changed."""
    token_file = settings.monitoring.webhook_token_file
    made = ensure_webhook_token(token_file)
    config = alertmanager_config(settings.listen.local_url, token_file=token_file)
    changed = write_if_changed(alertmanager_dir(settings) / "alertmanager.yml", render(config))
    return made or changed


def write_alarm_rules(settings: Settings) -> str:
    """Prometheus's alarm rule file from the database's rules; one line saying how it went.

    The server writes the same file when it starts and as rules change; `up` writes it too,
    after Prometheus runs, so that a file lost meanwhile is back at once. A SQLite database
    not made yet is left unmade (opening it would create an empty file).
    """
    layout = prometheus_layout(settings)
    url = settings.database.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return "alarm rules not written: no database yet (the server writes them at its start)"
    try:
        db = Database.open(settings.database.url, upgrade=False)
        try:
            with db.session() as session:
                rules = alarm_rules.all_rules(session)
        finally:
            db.close()
    except DockyardError as exc:
        return f"alarm rules not written: {exc.message}"
    except SQLAlchemyError as exc:  # e.g. a database not made yet
        return f"alarm rules not written: the database cannot be read ({exc})"
    publisher = RulePublisher(layout, settings.monitoring.prometheus_url, team_confine)
    try:
        problem = publisher.publish(rules)
    except DockyardError as exc:
        return f"alarm rules not written: {exc.message}"
    return f"{len(rules)} alarm rules" + (f" (not loaded: {problem})" if problem else "")


def ready_problem(url: str) -> str | None:
    """Why the Prometheus or Alertmanager at `url` is not ready, or None if it is."""
    try:
        with httpx.Client(timeout=PROBE_S) as http:
            answer = http.get(url.rstrip("/") + "/-/ready")
    except httpx.HTTPError as exc:
        return f"no answer at {url}: {exc or type(exc).__name__}"
    if answer.status_code != httpx.codes.OK:
        return f"{url} is not ready: {answer.status_code} {answer.text.strip()[:120]}"
    return None


def targets_health(url: str) -> str | None:
    """ "N of M targets up" from the Prometheus at `url` (with the first down one and why),
    or None if it does not say."""
    try:
        with httpx.Client(timeout=PROBE_S) as http:
            answer = http.get(url.rstrip("/") + "/api/v1/targets", params={"state": "active"})
        targets = answer.json()["data"]["activeTargets"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if not targets:
        return "no targets found yet"
    down = [t for t in targets if t.get("health") != "up"]
    words = f"{len(targets) - len(down)} of {len(targets)} targets up"
    if down:
        first = down[0]
        words += f" ({first.get('scrapeUrl')}: {first.get('lastError') or first.get('health')})"
    return words


def reload(url: str) -> str | None:
    """Ask the server at `url` to re-read its configuration; why it did not, or None."""
    try:
        with httpx.Client(timeout=30.0) as http:
            answer = http.post(url.rstrip("/") + "/-/reload")
    except httpx.HTTPError as exc:
        return f"no answer at {url}: {exc or type(exc).__name__}"
    if answer.status_code != httpx.codes.OK:
        return f"{answer.status_code} {answer.text.strip()[:200]}"
    return None


@dataclass(frozen=True)
class Part:
    """What `ensure` needs to know of one of the two."""

    label: str
    url: str
    managed: bool
    process: Managed
    stop_s: float
    package: str
    write_config: Callable[[Settings], bool]
    data_dir: Path


def parts(settings: Settings) -> tuple[Part, Part]:
    """Alertmanager, then Prometheus: the order `up` starts them in."""
    monitoring = settings.monitoring
    alertmanager = Part(
        "alertmanager", monitoring.alertmanager_url, monitoring.alertmanager_managed,
        alertmanager_process(settings), ALERTMANAGER_STOP_S, "prometheus-alertmanager",
        write_alertmanager_config, alertmanager_dir(settings),
    )  # fmt: skip
    prometheus = Part(
        "prometheus", monitoring.prometheus_url, monitoring.prometheus_managed,
        prometheus_process(settings), PROMETHEUS_STOP_S, "prometheus",
        write_prometheus_config, prometheus_layout(settings).root,
    )  # fmt: skip
    return alertmanager, prometheus


def ensure_monitoring(settings: Settings, *, env: dict[str, str]) -> list[str]:
    """Run (or find) Alertmanager and Prometheus and write the target file; one line each."""
    write_own_targets(settings)
    lines = [f"{part.label}: {ensure(settings, part, env=env)}" for part in parts(settings)]
    # After Prometheus runs, so that a changed file is reloaded at once.
    return [*lines, f"prometheus: {write_alarm_rules(settings)}"]


def ensure(settings: Settings, part: Part, *, env: dict[str, str]) -> str:
    """Make sure `part` answers ready, running this host's one if its URL is on loopback."""
    process = part.process
    ours = host_supervisor(settings).configured(process.name) or recorded_pid(process) is not None
    if not part.managed:
        problem = ready_problem(part.url)
        return f"not started here: {problem}" if problem else f"existing one ready at {part.url}"
    if not ours and ready_problem(part.url) is None:
        return (
            f"ready at {part.url} (not started by dockyard up, so not reading Dockyard's "
            f"configuration: stop it, or point DOCKYARD_{part.label.upper()}_URL elsewhere)"
        )
    if not os.access(process.argv[0], os.X_OK):
        return f"not started: {process.argv[0]} is missing: `apt-get install {part.package}`"
    changed = part.write_config(settings)
    done = supervise(
        settings,
        Program(process, stop_s=part.stop_s),
        env=env,
        answers=lambda: ready_problem(part.url) is None,
        timeout_s=START_S,
        failure=f"{part.label} was not ready at {part.url} within {START_S:g} s",
    )
    if changed and done.how.startswith("already running"):
        problem = reload(part.url)
        how = f"configuration reloaded (pid {done.pid})" if problem is None else (
            f"already running (pid {done.pid}) but refused its new configuration: {problem}"
        )  # fmt: skip
    else:
        how = done.describe()
    return f"{how} at {part.url}, data {part.data_dir}, log {process.log_file}"
