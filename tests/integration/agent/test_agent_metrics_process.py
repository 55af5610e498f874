"""The real `dockyard agent` process serves its host's and its instances' metrics on
DOCKYARD_AGENT_METRICS_ADDR beside the log center's: a container with Dockyard's labels shows
up within a listing interval with its team, service, env, instance and host labels, promtool
accepts the whole output, and the container's series are gone once it is removed."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_TEAM,
)
from tests.support.child import ChildProcess
from tests.support.etcd import EtcdServer
from tests.support.nats import NatsServer, free_port

pytestmark = pytest.mark.timeout(120)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


def labels_of(text: str, name: str, team: str) -> list[dict[str, str]]:
    return [
        s.labels
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.labels.get("team") == team
    ]


def test_the_agent_serves_host_and_instance_metrics(
    own_nats: NatsServer, etcd_server: EtcdServer, docker_engine: docker.APIClient,
    test_image: str, docker_team: str, tmp_path: Path,
) -> None:  # fmt: skip
    port, tag = free_port(), secrets.token_hex(3)
    env = {
        **os.environ,
        "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
        "DOCKYARD_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "DOCKYARD_ETCD_ENDPOINTS": etcd_server.endpoint,
        "DOCKYARD_ETCD_PREFIX": f"/agentm-{tag}",
        "DOCKYARD_NATS_URLS": own_nats.url,
        "DOCKYARD_IPAM_SOCKET": str(tmp_path / f"am-{tag}.sock"),
        "DOCKYARD_HOST_NAME": f"agentm-{tag}",
        "DOCKYARD_AGENT_METRICS_ADDR": f"127.0.0.1:{port}",
        "DOCKYARD_AGENT_METRICS_INTERVAL_S": "0.5",
    }
    agent = ChildProcess([sys.executable, "-m", "dockyard.cli", "agent"],
                         log_file=tmp_path / "agent.log")  # fmt: skip
    agent.start(env=env)
    try:
        wait_for(lambda: "dockyard_host_memory_total_bytes" in scrape(port), "host metrics")
        labels = {LABEL_MANAGED: "true", LABEL_TEAM: docker_team, LABEL_SERVICE: "web",
                  LABEL_ENV: "test", LABEL_INSTANCE: "web-1"}  # fmt: skip
        created = docker_engine.create_container(
            test_image, command=["sleep", "600"], labels=labels
        )
        docker_engine.start(created["Id"])
        cpu = "dockyard_instance_cpu_seconds_total"
        wait_for(lambda: bool(labels_of(scrape(port), cpu, docker_team)), "the instance's CPU")
        text = scrape(port)
        assert labels_of(text, cpu, docker_team) == [{"team": docker_team, "service": "web",
            "env": "test", "instance": "web-1", "host": f"agentm-{tag}"}]  # fmt: skip
        assert labels_of(text, "dockyard_instance_network_receive_bytes_total", docker_team)
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: ./run tests installs it (Debian's prometheus)"
        checked = subprocess.run(
            [promtool, "check", "metrics"], check=False, input=text, capture_output=True,
            text=True, timeout=30,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr

        docker_engine.remove_container(created["Id"], force=True)
        wait_for(lambda: not labels_of(scrape(port), cpu, docker_team), "the series gone")
        assert agent.running(), agent.log_tail()
    finally:
        agent.stop()
