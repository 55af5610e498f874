"""The target files of Prometheus's file-based discovery: who writes which, and how.

Each writer owns one file per job, named for itself (`dockyard.json`: this host's Dockyard
processes, written by `dockyard up`; one per host or per service for instances that serve
metrics of their own), so writers never share a file. Prometheus notices a file written,
replaced or removed within seconds, with no reload.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.prometheus_config import PrometheusLayout, Target, render, target_groups


def target_file(layout: PrometheusLayout, job: str, name: str) -> Path:
    """Where the writer `name` lists its targets of `job`."""
    return layout.targets_dir(job) / f"{name}.json"


def write_targets(layout: PrometheusLayout, job: str, name: str, targets: Iterable[Target]) -> bool:
    """Make the file of `name` list exactly `targets` (atomically); True if it changed."""
    return write_if_changed(target_file(layout, job, name), render(target_groups(targets)))


def remove_targets(layout: PrometheusLayout, job: str, name: str) -> bool:
    """Drop the file of `name`, and so its targets; True if there was one."""
    path = target_file(layout, job, name)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
