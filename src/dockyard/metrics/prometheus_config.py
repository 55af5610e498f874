"""prometheus.yml and its file-based service discovery, as Dockyard writes them (pure).

`dockyard up` (cli/monitoring.py) writes these under <state>/prometheus for the Prometheus it
runs. Targets are listed in JSON files, one directory per scrape job, that Prometheus re-reads
by itself whenever one changes: a target that comes or goes needs no reload. JSON is written
throughout: it is valid YAML, and needs no YAML library.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DOCKYARD_JOB = "dockyard"
"""Dockyard's own processes: each host's agent, the indexer, the archiver."""
INSTANCES_JOB = "instances"
"""Instances that declare a metrics endpoint of their own."""
BALANCER_JOB = "balancer"
"""Each host's HAProxy exporter: per-route requests, status codes and latencies."""
JOBS = (DOCKYARD_JOB, INSTANCES_JOB, BALANCER_JOB)
ROUTE_NAME = r"(?:tcp:)?([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)\.(test|sandbox|online|stable)"
"""A balancer backend's (or TCP frontend's) name: TEAM.SERVICE.ENV (discovery/balancer_layout)."""
LONGEST_SCRAPE_S = 10.0
"""A scrape may take this long, or the interval if that is shorter (Prometheus refuses a
timeout above the interval)."""


@dataclass(frozen=True)
class PrometheusLayout:
    """Where the files of one Prometheus are, under one directory."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "prometheus.yml"

    @property
    def rules_dir(self) -> Path:
        """Rule files (*.yml) Prometheus loads at start and on each reload."""
        return self.root / "rules"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def targets_dir(self, job: str) -> Path:
        """The target files (*.json) of one scrape job."""
        return self.root / "targets" / job


@dataclass(frozen=True)
class Target:
    """One address Prometheus scrapes, with the labels its every series gets."""

    address: str
    """HOST:PORT."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Set by Dockyard; a series scraped with the same label keeps its own as exported_NAME,
    so a target can never pass itself off as another (honor_labels stays false)."""


def prometheus_config(
    layout: PrometheusLayout,
    *,
    scrape_interval_s: float,
    alertmanager_url: str,
    remote_write_url: str | None = None,
) -> dict[str, Any]:
    """prometheus.yml: one interval for scrapes and rules, the rule files, the Alertmanager,
    a file-discovered scrape job per entry of JOBS, and remote write if a URL is given."""
    interval = duration(scrape_interval_s)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": duration(min(scrape_interval_s, LONGEST_SCRAPE_S)),
            "evaluation_interval": interval,
        },
        "rule_files": [str(layout.rules_dir / "*.yml")],
        "alerting": {"alertmanagers": [alertmanager_target(alertmanager_url)]},
        "scrape_configs": [_job(layout, job) for job in JOBS],
    }
    if remote_write_url:
        config["remote_write"] = [{"url": remote_write_url}]
    return config


def _job(layout: PrometheusLayout, job: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "job_name": job,
        "file_sd_configs": [{"files": [str(layout.targets_dir(job) / "*.json")]}],
    }
    if job == BALANCER_JOB:
        config["metric_relabel_configs"] = route_labels()
    if job == DOCKYARD_JOB:
        config["metric_relabel_configs"] = own_instance_label()
    return config


def own_instance_label() -> list[dict[str, Any]]:
    """Give a Dockyard process's series their own `instance` label back (a Dockyard instance
    id, which the scrape moved to `exported_instance`), so rules, charts and the autoscaler
    name instances the same way everywhere. Only for this job: Dockyard's own processes are
    trusted, the services' own endpoints are not."""
    return [
        {
            "source_labels": ["exported_instance"],
            "regex": "(.+)",
            "target_label": "instance",
            "replacement": "${1}",
        },
        {"action": "labeldrop", "regex": "exported_instance"},
    ]


def route_labels() -> list[dict[str, Any]]:
    """Give each HAProxy series of a route (its `proxy` label names it) the team, service and
    env labels every other series of that service carries."""
    return [
        {
            "source_labels": ["proxy"],
            "regex": ROUTE_NAME,
            "target_label": label,
            "replacement": f"${{{number}}}",
        }
        for number, label in enumerate(("team", "service", "env"), start=1)
    ]


def alertmanager_target(url: str) -> dict[str, Any]:
    """How Prometheus reaches the Alertmanager at `url` (scheme, HOST:PORT, path prefix)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    target: dict[str, Any] = {
        "scheme": parts.scheme or "http",
        "static_configs": [{"targets": [f"{host}:{port}"]}],
    }
    if parts.path.strip("/"):
        target["path_prefix"] = parts.path.rstrip("/")
    return target


def target_groups(targets: Iterable[Target]) -> list[dict[str, Any]]:
    """A target file's content: one group per target, in the order given."""
    return [{"targets": [t.address], "labels": dict(sorted(t.labels.items()))} for t in targets]


def scrape_address(listen_addr: str) -> str | None:
    """Where to scrape a process that listens on `listen_addr` (HOST:PORT): a wildcard host
    is reached on loopback; None if it serves no metrics (empty) or its port is not known
    beforehand (0)."""
    host, sep, port = listen_addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) == 0:
        return None
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


def duration(seconds: float) -> str:
    """Seconds in Prometheus's duration words: 10s, 1m30s written as 90s, 500ms."""
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def render(config: Any) -> str:
    """A configuration or target file's text (JSON, which is also YAML), stable across runs."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"
