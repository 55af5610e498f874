"""The built-in host alarms as Prometheus alerting rules over the agent's host metrics
(metrics/host.py), written beside Prometheus' configuration (its `rule_files` glob): disk and
inode use of the filesystems holding Docker's and Dockyard's directories, and memory pressure.
Pure; cli/monitoring.py writes the file.

Their alerts carry `host`, `severity` and `dockyard_builtin="true"` but no team: they are the
platform's, recorded and shown to the admin (`GET /alarms`) and sent to no receiver (receivers
are a team's). Each expression keeps only `host` (and `path`), so the
scrape's own `instance` label (an address) never reads as a Dockyard instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.metrics import definitions as d
from dockyard.metrics.alert import BUILTIN_LABEL

RULES_FILE = "dockyard-host.yml"
"""The file's name in Prometheus' rules directory."""
GROUP = "dockyard-host"


@dataclass(frozen=True)
class HostThresholds:
    """When the host alarms fire; `*_for` are Prometheus durations."""

    disk_warning_pct: int = 85
    disk_critical_pct: int = 95
    inodes_warning_pct: int = 85
    inodes_critical_pct: int = 95
    disk_for: str = "5m"
    memory_available_pct: int = 10
    """Below this share of memory available (MemAvailable), the host is short of memory."""
    memory_stalled_pct: int = 10
    """Above this share of time with every task waiting for memory (PSI `full`), it thrashes."""
    memory_for: str = "2m"


def host_rules(thresholds: HostThresholds | None = None) -> dict[str, Any]:
    """The rules file's content: one group of HostDiskFull, HostInodesFull and
    HostMemoryPressure rules (a warning and a critical threshold for each filesystem alarm)."""
    t = thresholds or HostThresholds()
    disk_used = (
        f"100 * (1 - max by (host, path) ({d.HOST_DISK_FREE.name}) "
        f"/ max by (host, path) ({d.HOST_DISK_SIZE.name} > 0))"
    )
    inodes_used = (
        f"100 * (1 - max by (host, path) ({d.HOST_INODES_FREE.name}) "
        f"/ max by (host, path) ({d.HOST_INODES.name} > 0))"
    )
    available = (
        f"100 * max by (host) ({d.HOST_MEMORY_AVAILABLE.name}) "
        f"/ max by (host) ({d.HOST_MEMORY.name} > 0)"
    )
    stalled = f'100 * max by (host) (rate({d.HOST_MEMORY_STALLED.name}_total{{kind="full"}}[5m]))'
    disk_text = '{{ $labels.path }} on {{ $labels.host }} is {{ $value | printf "%.0f" }}% '
    rules = [
        _rule("HostDiskFull", f"{disk_used} > {t.disk_warning_pct}", t.disk_for, "warning",
              disk_text + "full"),
        _rule("HostDiskFull", f"{disk_used} > {t.disk_critical_pct}", t.disk_for, "critical",
              disk_text + "full"),
        _rule("HostInodesFull", f"{inodes_used} > {t.inodes_warning_pct}", t.disk_for, "warning",
              disk_text + "of its inodes used"),
        _rule("HostInodesFull", f"{inodes_used} > {t.inodes_critical_pct}", t.disk_for,
              "critical", disk_text + "of its inodes used"),
        _rule("HostMemoryPressure", f"{available} < {t.memory_available_pct}", t.memory_for,
              "warning", "{{ $labels.host }} has only {{ $value | printf \"%.0f\" }}% of its "
              "memory available"),
        _rule("HostMemoryPressure", f"{stalled} > {t.memory_stalled_pct}", t.memory_for,
              "critical", "every task on {{ $labels.host }} waited for memory "
              "{{ $value | printf \"%.0f\" }}% of the time over 5 minutes"),
    ]  # fmt: skip
    return {"groups": [{"name": GROUP, "rules": rules}]}


def _rule(name: str, expr: str, after: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": after,
        "labels": {"severity": severity, BUILTIN_LABEL: "true"},
        "annotations": {"summary": summary},
    }
