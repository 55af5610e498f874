"""The built-in host alarms' rules file, checked by Prometheus' own promtool: it loads
(`promtool check rules`), and its rules fire with the labels the platform's admins route on
over series shaped as the agent exports them (`promtool test rules`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dockyard.metrics.host_rules import RULES_FILE, host_rules
from dockyard.metrics.prometheus_config import render

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is absent (Debian's prometheus package)"
)
SCRAPE = 'job="dockyard",instance="127.0.0.1:9465",component="agent",host="h1"'
DOCKER = f'{SCRAPE},path="/var/lib/docker"'


def _promtool(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / RULES_FILE).write_text(render(host_rules()))
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=tmp_path, check=False, capture_output=True, text=True
    )


def _test(tmp_path: Path, series: dict[str, str], alerts: list[dict[str, Any]]) -> None:
    """Run promtool's rule unit test: `series` (selector -> values) for 10 minutes, the
    `alerts` expected firing at minute 10."""
    case = {
        "rule_files": [RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": alerts,
            }
        ],
    }
    (tmp_path / "case.yml").write_text(json.dumps(case))
    done = _promtool(tmp_path, "test", "rules", "case.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def _expected(name: str, firing: list[tuple[str, dict[str, str], str]]) -> dict[str, Any]:
    return {
        "eval_time": "10m",
        "alertname": name,
        "exp_alerts": [
            {
                "exp_labels": {"severity": severity, "dockyard_builtin": "true", **labels},
                "exp_annotations": {"summary": summary},
            }
            for severity, labels, summary in firing
        ],
    }


def test_rules_file_passes_promtool_check(tmp_path: Path) -> None:
    done = _promtool(tmp_path, "check", "rules", RULES_FILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_full_disk_fires_warning_and_critical_per_host_and_path(tmp_path: Path) -> None:
    where = {"host": "h1", "path": "/var/lib/docker"}
    text = "/var/lib/docker on h1 is 96% full"
    _test(
        tmp_path,
        {
            f"dockyard_host_disk_free_bytes{{{DOCKER}}}": "4+0x10",
            f"dockyard_host_disk_size_bytes{{{DOCKER}}}": "100+0x10",
            f"dockyard_host_inodes_free{{{DOCKER}}}": "50+0x10",
            f"dockyard_host_inodes{{{DOCKER}}}": "100+0x10",
        },
        [
            _expected("HostDiskFull", [("warning", where, text), ("critical", where, text)]),
            _expected("HostInodesFull", []),
        ],
    )


def test_inodes_running_out_fires_on_their_own(tmp_path: Path) -> None:
    where = {"host": "h1", "path": "/var/lib/docker"}
    _test(
        tmp_path,
        {
            f"dockyard_host_disk_free_bytes{{{DOCKER}}}": "90+0x10",
            f"dockyard_host_disk_size_bytes{{{DOCKER}}}": "100+0x10",
            f"dockyard_host_inodes_free{{{DOCKER}}}": "10+0x10",
            f"dockyard_host_inodes{{{DOCKER}}}": "100+0x10",
        },
        [
            _expected("HostDiskFull", []),
            _expected(
                "HostInodesFull",
                [("warning", where, "/var/lib/docker on h1 is 90% of its inodes used")],
            ),
        ],
    )


def test_memory_pressure_fires_on_little_available_or_long_stalls(tmp_path: Path) -> None:
    _test(
        tmp_path,
        {
            f"dockyard_host_memory_available_bytes{{{SCRAPE}}}": "5+0x10",
            f"dockyard_host_memory_total_bytes{{{SCRAPE}}}": "100+0x10",
            # 30 s of every task stalled per minute: 50 % of the time.
            f'dockyard_host_memory_pressure_stalled_seconds_total{{{SCRAPE},kind="full"}}': (
                "0+30x10"
            ),
        },
        [
            _expected(
                "HostMemoryPressure",
                [
                    ("warning", {"host": "h1"}, "h1 has only 5% of its memory available"),
                    (
                        "critical",
                        {"host": "h1"},
                        "every task on h1 waited for memory 50% of the time over 5 minutes",
                    ),
                ],
            )
        ],
    )


def test_a_healthy_host_fires_nothing(tmp_path: Path) -> None:
    _test(
        tmp_path,
        {
            f"dockyard_host_disk_free_bytes{{{DOCKER}}}": "60+0x10",
            f"dockyard_host_disk_size_bytes{{{DOCKER}}}": "100+0x10",
            f"dockyard_host_memory_available_bytes{{{SCRAPE}}}": "60+0x10",
            f"dockyard_host_memory_total_bytes{{{SCRAPE}}}": "100+0x10",
            f'dockyard_host_memory_pressure_stalled_seconds_total{{{SCRAPE},kind="full"}}': (
                "0+0x10"
            ),
        },
        [_expected(name, []) for name in ("HostDiskFull", "HostMemoryPressure")],
    )
