"""The Prometheus and Alertmanager programs `dockyard up` runs, and their settings (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.monitoring import alertmanager_process, own_targets, prometheus_process
from dockyard.domain.errors import Invalid
from dockyard.settings import Settings

BASE = {"HOME": "/h", "DOCKYARD_STATE_DIR": "/srv/dy", "DOCKYARD_HOST_NAME": "h1"}


def _settings(**environ: str) -> Settings:
    return Settings.from_env(BASE | environ, uid=0)


def test_prometheus_listens_on_its_url_with_its_files_in_the_state_dir() -> None:
    process = prometheus_process(_settings(DOCKYARD_PROMETHEUS_RETENTION="30d"))
    assert process.name == "prometheus"
    assert process.argv[1:] == (
        "--config.file=/srv/dy/prometheus/prometheus.yml",
        "--storage.tsdb.path=/srv/dy/prometheus/data",
        "--storage.tsdb.retention.time=30d",
        "--web.listen-address=127.0.0.1:9090",
        "--web.external-url=http://127.0.0.1:9090",
        "--web.enable-lifecycle",
        "--rules.alert.resend-delay=10s",
    )
    assert process.log_file == Path("/srv/dy/logs/prometheus.log")


def test_alertmanager_listens_on_its_url_alone_with_its_files_in_the_state_dir() -> None:
    process = alertmanager_process(_settings(DOCKYARD_ALERTMANAGER_URL="http://[::1]:19093"))
    assert process.name == "alertmanager"
    assert process.argv[1:] == (
        "--config.file=/srv/dy/alertmanager/alertmanager.yml",
        "--storage.path=/srv/dy/alertmanager/data",
        "--web.listen-address=[::1]:19093",
        "--web.external-url=http://[::1]:19093",
        "--cluster.listen-address=",
    )


@pytest.mark.parametrize(
    ("url", "managed"),
    [
        (None, True),
        ("http://127.0.0.1:19090", True),
        ("http://localhost:9090", True),
        ("http://[::1]:9090", True),
        ("http://prometheus.example:9090", False),
        ("https://10.1.2.3", False),
    ],
)
def test_only_a_loopback_url_is_run_here(url: str | None, managed: bool) -> None:
    environ = (
        {} if url is None else {"DOCKYARD_PROMETHEUS_URL": url, "DOCKYARD_ALERTMANAGER_URL": url}
    )
    monitoring = _settings(**environ).monitoring
    assert (monitoring.prometheus_managed, monitoring.alertmanager_managed) == (managed, managed)


def test_monitoring_defaults() -> None:
    monitoring = _settings().monitoring
    assert (monitoring.scrape_interval_s, monitoring.retention, monitoring.remote_write_url) == (
        10.0, "15d", None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DOCKYARD_PROMETHEUS_URL", "127.0.0.1:9090"),
        ("DOCKYARD_PROMETHEUS_RETENTION", "15"),
        ("DOCKYARD_PROMETHEUS_RETENTION", "0d"),
        ("DOCKYARD_SCRAPE_INTERVAL_S", "0.1"),
        ("DOCKYARD_PROMETHEUS_REMOTE_WRITE_URL", "mimir:9009"),
    ],
)
def test_bad_monitoring_settings_name_their_variable(name: str, raw: str) -> None:
    with pytest.raises(Invalid) as raised:
        _settings(**{name: raw})
    assert raised.value.field == name


def test_own_targets_are_the_processes_that_serve_metrics_labelled_by_component() -> None:
    settings = _settings(
        DOCKYARD_INDEXER_METRICS_ADDR="", DOCKYARD_ARCHIVER_METRICS_ADDR="0.0.0.0:19467"
    )
    assert [(t.address, dict(t.labels)) for t in own_targets(settings)] == [
        ("127.0.0.1:9465", {"component": "agent", "host": "h1"}),
        ("127.0.0.1:19467", {"component": "archiver", "host": "h1"}),
    ]
