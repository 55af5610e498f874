"""The agent's instance collector against a real engine and real containers on this host
(cgroups v1): CPU rising under a busy loop and throttled at the container's CPU limit, memory
and its limit, pids, network bytes after HTTP traffic to the instance, a restart in place
counted, and every series gone once the container is removed. promtool accepts the output."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import docker
import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dockyard.agent.metrics import DockerContainers
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_SERVICE,
    LABEL_TEAM,
)
from dockyard.metrics.exposition import registry_of
from dockyard.metrics.host import HostCollector
from dockyard.metrics.instances import InstanceCollector

pytestmark = pytest.mark.timeout(120)
MIB = 1024 * 1024
# httpd in the background, then a busy loop in the foreground: CPU-bound at 0.5 CPU.
BUSY = "httpd -p 8080 -h /www; while :; do :; done"

Samples = dict[str, float]


def start(client: docker.APIClient, image: str, team: str, instance: str) -> str:
    labels = {LABEL_MANAGED: "true", LABEL_TEAM: team, LABEL_SERVICE: "web",
              LABEL_ENV: "test", LABEL_INSTANCE: instance}  # fmt: skip
    host_config = client.create_host_config(
        nano_cpus=500_000_000, mem_limit=64 * MIB, memswap_limit=64 * MIB, pids_limit=50
    )
    created = client.create_container(
        image, command=["sh", "-c", BUSY], labels=labels, host_config=host_config
    )
    client.start(created["Id"])
    return str(created["Id"])


@pytest.fixture
def collector(docker_engine: docker.APIClient) -> Iterator[InstanceCollector]:
    client = docker.APIClient(version="1.41")
    yield InstanceCollector(DockerContainers(client), host="h-test")
    client.close()


def of_instance(collector: InstanceCollector, instance: str) -> Samples:
    text = generate_latest(registry_of(collector)).decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("instance") == instance
    }


def test_a_busy_instance_is_measured_and_forgotten_once_removed(
    docker_engine: docker.APIClient, test_image: str, docker_team: str,
    collector: InstanceCollector,
) -> None:  # fmt: skip
    cid = start(docker_engine, test_image, docker_team, "web-1")
    collector.refresh()
    first, began = of_instance(collector, "web-1"), time.monotonic()
    time.sleep(2.0)
    ip = docker_engine.inspect_container(cid)["NetworkSettings"]["IPAddress"]
    for _ in range(20):
        assert httpx.get(f"http://{ip}:8080/health", timeout=5).status_code == 200
    then, elapsed = of_instance(collector, "web-1"), time.monotonic() - began

    cpu = then["dockyard_instance_cpu_seconds_total"] - first["dockyard_instance_cpu_seconds_total"]
    # Busy at its limit of 0.5 CPU: about half the time passed (one 100 ms period of slack).
    assert 0.4 * elapsed < cpu < 0.5 * elapsed + 0.1, (cpu, elapsed)
    assert then["dockyard_instance_cpu_throttled_periods_total"] > 0
    assert then["dockyard_instance_memory_limit_bytes"] == 64 * MIB
    assert then["dockyard_instance_cpu_limit_cores"] == 0.5
    assert 0 < then["dockyard_instance_memory_working_set_bytes"] <= then[
        "dockyard_instance_memory_usage_bytes"]  # fmt: skip
    assert then["dockyard_instance_pids"] == 2  # sh (the busy loop) and httpd
    received = then["dockyard_instance_network_receive_bytes_total"] - first.get(
        "dockyard_instance_network_receive_bytes_total", 0)  # fmt: skip
    sent = then["dockyard_instance_network_transmit_bytes_total"] - first.get(
        "dockyard_instance_network_transmit_bytes_total", 0)  # fmt: skip
    assert received > 20 * 50 and sent > 20 * 100, (received, sent)  # 20 requests, 20 answers
    assert then["dockyard_instance_restarts_total"] == 0
    veth = collector.tracked[cid].veth  # read from the host side, not the namespace's table
    assert veth is not None and veth.startswith("veth")

    docker_engine.remove_container(cid, force=True)
    collector.refresh()
    assert of_instance(collector, "web-1") == {}
    assert cid not in collector.tracked


def test_a_restart_in_place_is_counted(
    docker_engine: docker.APIClient, test_image: str, docker_team: str,
    collector: InstanceCollector,
) -> None:  # fmt: skip
    cid = start(docker_engine, test_image, docker_team, "web-2")
    collector.refresh()
    docker_engine.restart(cid, timeout=1)  # within one listing, as the controller's restart
    collector.refresh()
    assert of_instance(collector, "web-2")["dockyard_instance_restarts_total"] == 1


def test_promtool_accepts_the_agent_metrics_of_real_containers(
    docker_engine: docker.APIClient, test_image: str, docker_team: str,
    collector: InstanceCollector,
) -> None:  # fmt: skip
    start(docker_engine, test_image, docker_team, "web-3")
    collector.refresh()
    hosts = HostCollector(host="h-test", paths=["/var/lib/docker", "/tmp"],
                          instances=collector.running)  # fmt: skip
    text = generate_latest(registry_of(collector, hosts)).decode()
    assert 'instance="web-3"' in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./run tests installs it (Debian's prometheus)"
    checked = subprocess.run(
        [promtool, "check", "metrics"], check=False, input=text, capture_output=True,
        text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
