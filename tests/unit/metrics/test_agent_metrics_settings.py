"""The agent's metrics settings as read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.settings import MetricsSettings, Settings


def _metrics(**environ: str) -> MetricsSettings:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).metrics


def test_defaults_list_every_five_seconds_and_watch_docker_root() -> None:
    metrics = _metrics()
    assert metrics.agent_interval_s == 5.0
    assert metrics.docker_root == Path("/var/lib/docker")


def test_interval_and_docker_root_from_the_environment() -> None:
    metrics = _metrics(DOCKYARD_AGENT_METRICS_INTERVAL_S="10", DOCKYARD_DOCKER_ROOT="/srv/docker")
    assert metrics.agent_interval_s == 10.0
    assert metrics.docker_root == Path("/srv/docker")


@pytest.mark.parametrize("raw", ["0", "-1", "nan", "soon"])
def test_bad_interval_is_refused(raw: str) -> None:
    with pytest.raises(Invalid, match="DOCKYARD_AGENT_METRICS_INTERVAL_S"):
        _metrics(DOCKYARD_AGENT_METRICS_INTERVAL_S=raw)
