"""prometheus.yml, alertmanager.yml and target files as Dockyard writes them: their content
(tables), and promtool's and amtool's verdict on them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.metrics.alertmanager_config import alertmanager_config
from dockyard.metrics.config_file import write_if_changed
from dockyard.metrics.prometheus_config import (
    PrometheusLayout,
    Target,
    alertmanager_target,
    duration,
    prometheus_config,
    render,
    scrape_address,
    target_groups,
)
from dockyard.metrics.target_file import remove_targets, target_file, write_targets

LAYOUT = PrometheusLayout(Path("/srv/dy/prometheus"))


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(10, "10s"), (1, "1s"), (0.5, "500ms"), (90, "90s"), (2.25, "2250ms")],
)
def test_durations_are_written_in_prometheus_words(seconds: float, words: str) -> None:
    assert duration(seconds) == words


@pytest.mark.parametrize(
    ("listen", "scraped"),
    [
        ("127.0.0.1:9465", "127.0.0.1:9465"),
        ("0.0.0.0:9466", "127.0.0.1:9466"),  # a wildcard is reached on loopback
        ("[::]:9467", "127.0.0.1:9467"),
        ("10.0.0.5:9465", "10.0.0.5:9465"),
        ("127.0.0.1:0", None),  # a port chosen at start is not known beforehand
        ("", None),  # serves no metrics
    ],
)
def test_a_process_is_scraped_where_it_listens(listen: str, scraped: str | None) -> None:
    assert scrape_address(listen) == scraped


@pytest.mark.parametrize(
    ("url", "scheme", "target", "prefix"),
    [
        ("http://127.0.0.1:9093", "http", "127.0.0.1:9093", None),
        ("https://am.example", "https", "am.example:443", None),
        ("http://am:80/alertmanager/", "http", "am:80", "/alertmanager"),
        ("http://[::1]:9093", "http", "[::1]:9093", None),
    ],
)
def test_prometheus_reaches_the_alertmanager_of_its_url(
    url: str, scheme: str, target: str, prefix: str | None
) -> None:
    found = alertmanager_target(url)
    assert found["scheme"] == scheme and found.get("path_prefix") == prefix
    assert found["static_configs"] == [{"targets": [target]}]


def test_prometheus_config_scrapes_every_job_from_target_files_and_loads_the_rules() -> None:
    config = prometheus_config(
        LAYOUT, scrape_interval_s=10, alertmanager_url="http://127.0.0.1:9093"
    )
    assert config["global"] == {
        "scrape_interval": "10s", "scrape_timeout": "10s", "evaluation_interval": "10s"
    }  # fmt: skip
    assert config["rule_files"] == ["/srv/dy/prometheus/rules/*.yml"]
    assert [(job["job_name"], job["file_sd_configs"]) for job in config["scrape_configs"]] == [
        ("dockyard", [{"files": ["/srv/dy/prometheus/targets/dockyard/*.json"]}]),
        ("instances", [{"files": ["/srv/dy/prometheus/targets/instances/*.json"]}]),
        ("balancer", [{"files": ["/srv/dy/prometheus/targets/balancer/*.json"]}]),
    ]
    assert not any(job.get("honor_labels") for job in config["scrape_configs"])
    assert "remote_write" not in config


@pytest.mark.parametrize(
    ("interval", "timeout"), [(1, "1s"), (10, "10s"), (60, "10s"), (0.5, "500ms")]
)
def test_a_scrape_never_outlasts_its_interval(interval: float, timeout: str) -> None:
    config = prometheus_config(LAYOUT, scrape_interval_s=interval, alertmanager_url="http://a:1")
    assert config["global"]["scrape_timeout"] == timeout


def test_remote_write_is_added_when_a_url_is_given() -> None:
    config = prometheus_config(
        LAYOUT, scrape_interval_s=10, alertmanager_url="http://a:1",
        remote_write_url="https://mimir.example/api/v1/push",
    )  # fmt: skip
    assert config["remote_write"] == [{"url": "https://mimir.example/api/v1/push"}]


def test_target_groups_carry_the_labels_dockyard_sets() -> None:
    targets = [Target("127.0.0.1:9465", {"host": "h1", "component": "agent"}), Target("b:1")]
    assert target_groups(targets) == [
        {"targets": ["127.0.0.1:9465"], "labels": {"component": "agent", "host": "h1"}},
        {"targets": ["b:1"], "labels": {}},
    ]


def test_alertmanager_sends_every_alert_and_its_resolution_to_the_server() -> None:
    config = alertmanager_config("http://127.0.0.1:8420/", token_file=Path("/s/webhook.token"))
    assert config["route"]["receiver"] == "dockyard"
    assert config["receivers"] == [
        {
            "name": "dockyard",
            "webhook_configs": [
                {
                    "url": "http://127.0.0.1:8420/api/v1/alerts/webhook",
                    "send_resolved": True,
                    "http_config": {
                        "authorization": {
                            "type": "Bearer",
                            "credentials_file": "/s/webhook.token",
                        }
                    },
                }
            ],
        }
    ]


def test_built_in_alarms_wait_one_second_before_they_are_sent() -> None:
    config = alertmanager_config("http://127.0.0.1:8420/", group_wait_s=30)
    (builtin,) = config["route"]["routes"]
    assert builtin["matchers"] == ['dockyard_builtin="true"']
    assert builtin["group_wait"] == "1s"
    assert config["route"]["group_wait"] == "30s"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: ./run up installs it (Debian's prometheus packages)"
    return found


@pytest.mark.parametrize("remote_write", [None, "https://mimir.example/api/v1/push"])
def test_promtool_accepts_the_prometheus_config(tmp_path: Path, remote_write: str | None) -> None:
    layout = PrometheusLayout(tmp_path)
    config = prometheus_config(
        layout, scrape_interval_s=2, alertmanager_url="http://127.0.0.1:9093",
        remote_write_url=remote_write,
    )  # fmt: skip
    write_if_changed(layout.config_file, render(config))
    targets = layout.targets_dir("dockyard") / "dockyard.json"
    write_if_changed(targets, render(target_groups([Target("127.0.0.1:9465", {"a": "b"})])))
    checked = subprocess.run(
        [_tool("promtool"), "check", "config", str(layout.config_file)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_amtool_accepts_the_alertmanager_config(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    token = tmp_path / "webhook.token"
    token.write_text("secret\n")
    config = alertmanager_config("http://127.0.0.1:8420", token_file=token)
    write_if_changed(path, render(config))
    checked = subprocess.run(
        [_tool("amtool"), "check-config", str(path)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_file_is_replaced_whole_and_only_when_its_text_changes(tmp_path: Path) -> None:
    path = tmp_path / "targets" / "dockyard" / "dockyard.json"
    assert write_if_changed(path, "[]\n")
    inode = path.stat().st_ino
    assert not write_if_changed(path, "[]\n")
    assert path.stat().st_ino == inode  # untouched: Prometheus sees no change
    assert write_if_changed(path, '[{"targets": ["a:1"]}]\n')
    assert path.stat().st_ino != inode  # renamed over, never written in place
    assert json.loads(path.read_text()) == [{"targets": ["a:1"]}]
    assert [p.name for p in path.parent.iterdir()] == ["dockyard.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_each_writer_owns_one_target_file_per_job(tmp_path: Path) -> None:
    layout = PrometheusLayout(tmp_path)
    targets = [Target("10.0.0.2:8080", {"team": "t"})]
    assert write_targets(layout, "instances", "host-a", targets)
    assert not write_targets(layout, "instances", "host-a", targets)  # same: left alone
    path = target_file(layout, "instances", "host-a")
    assert path == tmp_path / "targets" / "instances" / "host-a.json"
    assert json.loads(path.read_text()) == [{"targets": ["10.0.0.2:8080"], "labels": {"team": "t"}}]
    assert remove_targets(layout, "instances", "host-a") and not path.exists()
    assert not remove_targets(layout, "instances", "host-a")
